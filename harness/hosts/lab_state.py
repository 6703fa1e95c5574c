"""Persistent record of network-namespace labs, so any process can clean them up.

Each lab has one JSON file under the state dir (`/run/splitbrain/labs/<lab>.json` by
default, `$SPLITBRAIN_STATE_DIR` to override). It is written *before* anything is
created and updated whenever a daemon starts, so `splitbrain lab down` can remove every
namespace, link and process even after the controller that made them was SIGKILLed.
/run is a tmpfs: after a reboot the namespaces are gone too, and so are the records.

Subnet allocation (10.77.X.0/24, one X per lab) happens under an flock on the state
dir, so concurrent `lab up`s never hand out the same /24.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness.core.protocols import HarnessError

LAB_NAME_RE = re.compile(r"^[a-z0-9]{1,12}$")
NODE_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
SUBNET_BASE = "10.77"
HOST_OCTET = 254
FIRST_NODE_OCTET = 11


def state_dir() -> Path:
    return Path(os.environ.get("SPLITBRAIN_STATE_DIR", "/run/splitbrain/labs"))


@dataclass
class NodeRecord:
    ns: str
    address: str
    link: str  # the bridge-side veth inside the lab namespace


@dataclass
class PidRecord:
    pid: int
    start: int | None
    node: str


@dataclass
class LabRecord:
    """Everything a lab consists of: enough to delete it without any other knowledge."""

    name: str
    subnet_index: int
    lab_ns: str
    host_link: str
    host_address: str
    nodes: dict[str, NodeRecord]
    pids: list[PidRecord] = field(default_factory=list)
    owner_pid: int = 0
    created: float = 0.0
    state: str = "creating"

    @property
    def subnet(self) -> str:
        return f"{SUBNET_BASE}.{self.subnet_index}.0/24"

    def namespaces(self) -> list[str]:
        return [n.ns for n in self.nodes.values()] + [self.lab_ns]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> LabRecord:
        raw = json.loads(text)
        raw["nodes"] = {k: NodeRecord(**v) for k, v in raw["nodes"].items()}
        raw["pids"] = [PidRecord(**p) for p in raw.get("pids", [])]
        return cls(**raw)


def validate_lab_name(name: str) -> None:
    if not LAB_NAME_RE.match(name):
        raise HarnessError(f"lab name {name!r}: use 1-12 lowercase letters or digits")


def validate_node_names(names: list[str]) -> None:
    if not names:
        raise HarnessError("a lab needs at least one node")
    if len(names) > 200:
        raise HarnessError(f"a lab holds at most 200 nodes, not {len(names)}")
    if len(set(names)) != len(names):
        raise HarnessError(f"node names must be distinct: {names}")
    for name in names:
        if not NODE_NAME_RE.match(name):
            raise HarnessError(f"node name {name!r}: use 1-16 letters, digits, _ or -")


def record_path(name: str) -> Path:
    return state_dir() / f"{name}.json"


@contextlib.contextmanager
def locked() -> Iterator[None]:
    """Exclusive lock over the whole state dir (allocation and record updates)."""
    directory = state_dir()
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def load(name: str) -> LabRecord | None:
    path = record_path(name)
    try:
        return LabRecord.from_json(path.read_text())
    except FileNotFoundError:
        return None
    except (ValueError, TypeError, KeyError) as exc:
        raise HarnessError(f"lab state {path} is unreadable ({exc}); remove it by hand") from exc


def save(record: LabRecord) -> None:
    path = record_path(record.name)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(record.to_json())
    os.replace(tmp, path)


def remove(name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        record_path(name).unlink()


def all_names() -> list[str]:
    directory = state_dir()
    if not directory.is_dir():
        return []
    return sorted(p.stem for p in directory.glob("*.json"))


def _routed_networks() -> list[ipaddress.IPv4Network]:
    """Every IPv4 prefix the host namespace already routes (to avoid colliding with it)."""
    try:
        out = subprocess.run(
            ["ip", "-4", "route", "show", "table", "all"], capture_output=True, text=True
        ).stdout
    except OSError:
        return []
    nets = []
    for line in out.splitlines():
        words = line.split()
        if not words:
            continue
        dest = (
            words[1]
            if words[0] in ("local", "broadcast", "unicast") and len(words) > 1
            else words[0]
        )
        if dest == "default":
            continue
        with contextlib.suppress(ValueError):
            nets.append(ipaddress.ip_network(dest, strict=False))
    return nets


def allocate(name: str, node_names: list[str]) -> LabRecord:
    """Reserve a fresh /24 and write the lab's record (caller holds no lock)."""
    validate_lab_name(name)
    validate_node_names(node_names)
    with locked():
        if record_path(name).exists():
            raise HarnessError(f"lab {name!r} already exists (splitbrain lab down --name {name})")
        used = set()
        for other in all_names():
            rec = load(other)
            if rec is not None:
                used.add(rec.subnet_index)
        routed = _routed_networks()
        for index in range(1, 255):
            if index in used:
                continue
            net = ipaddress.ip_network(f"{SUBNET_BASE}.{index}.0/24")
            if any(net.overlaps(r) for r in routed if r.prefixlen > 0):
                continue
            break
        else:
            raise HarnessError(f"no free {SUBNET_BASE}.X.0/24 left for a new lab")
        nodes = {
            node: NodeRecord(
                ns=f"sb-{name}-{node}",
                address=f"{SUBNET_BASE}.{index}.{FIRST_NODE_OCTET + i}",
                link=f"v{i}",
            )
            for i, node in enumerate(node_names)
        }
        record = LabRecord(
            name=name,
            subnet_index=index,
            lab_ns=f"sb-{name}",
            host_link=f"sb{name}",
            host_address=f"{SUBNET_BASE}.{index}.{HOST_OCTET}",
            nodes=nodes,
            owner_pid=os.getpid(),
            created=time.time(),
        )
        save(record)
        return record


def add_pid(name: str, pid: int, start: int | None, node: str) -> None:
    """Remember a daemon started inside the lab, for cleanup after a controller crash."""
    with locked():
        record = load(name)
        if record is None:
            return
        record.pids = [p for p in record.pids if p.pid != pid]
        record.pids.append(PidRecord(pid=pid, start=start, node=node))
        save(record)


def set_state(name: str, state: str) -> None:
    with locked():
        record = load(name)
        if record is not None:
            record.state = state
            save(record)
