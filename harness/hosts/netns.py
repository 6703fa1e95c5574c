"""The `netns` cluster kind: a lab of Linux network namespaces on this machine.

Layout of a lab named L with subnet 10.77.X.0/24:

    host netns                 lab netns "sb-L"                 node netns "sb-L-n1"
    sbL 10.77.X.254/24 <veth> uplink ─┐
                                      br0 ── v0 <veth> eth0 10.77.X.11/24
                                         ── v1 <veth> eth0 10.77.X.12/24 (sb-L-n2) …

The bridge and the node-side veths live in the lab namespace, so the only things added
to the host's own namespace are one veth end (`sbL`) and the connected route for the
lab's /24 that its address implies: the minimum for the controller's plain sockets (and
curl, ssh, any DB adapter) to reach node addresses. Deleting the lab namespace destroys
the bridge and that veth pair, so cleanup cannot leave a dangling link behind.

Every resource is recorded in the lab state file first (see lab_state), daemons are
recorded by pid and start time, and `destroy_lab` also kills whatever still runs in the
lab's namespaces (`ip netns pids`), so a lab is removable after any controller crash.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from harness.core.protocols import HarnessError, HostError
from harness.hosts import lab_state, procs
from harness.hosts.lab_state import LabRecord
from harness.hosts.local import LocalHost


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    argv = ["ip", *args]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise HostError("controller", " ".join(argv), str(exc)) from exc
    if check and proc.returncode != 0:
        raise HostError(
            "controller", " ".join(argv), proc.stderr.strip() or f"exit {proc.returncode}"
        )
    return proc


def can_admin_network() -> tuple[bool, str]:
    """Whether this process may build labs; the reason when it may not."""
    if os.geteuid() != 0:
        return False, "not running as root"
    if shutil.which("ip") is None:
        return False, "iproute2 ('ip') is not installed"
    probe = f"sbprobe{os.getpid()}{secrets.token_hex(2)}"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return False, f"cannot create network namespaces ({made.stderr.strip()})"
    _ip("netns", "delete", probe, check=False)
    return True, "root and iproute2 can create network namespaces"


def new_lab_name() -> str:
    return secrets.token_hex(4)


def existing_namespaces() -> set[str]:
    out = _ip("netns", "list", check=False).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def _build(record: LabRecord) -> None:
    lab = record.lab_ns
    _ip("netns", "add", lab)
    _ip("-n", lab, "link", "set", "lo", "up")
    _ip("-n", lab, "link", "add", "br0", "type", "bridge")
    _ip("-n", lab, "link", "set", "br0", "up")
    _ip("link", "add", record.host_link, "type", "veth", "peer", "name", "uplink", "netns", lab)
    _ip("addr", "add", f"{record.host_address}/24", "dev", record.host_link)
    _ip("link", "set", record.host_link, "up")
    _ip("-n", lab, "link", "set", "uplink", "master", "br0", "up")
    for node in record.nodes.values():
        _ip("netns", "add", node.ns)
        _ip("-n", node.ns, "link", "set", "lo", "up")
        _ip(
            "-n",
            lab,
            "link",
            "add",
            node.link,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            node.ns,
        )
        _ip("-n", lab, "link", "set", node.link, "master", "br0", "up")
        _ip("-n", node.ns, "addr", "add", f"{node.address}/24", "dev", "eth0")
        _ip("-n", node.ns, "link", "set", "eth0", "up")


def create_lab(node_names: Sequence[str], name: str | None = None) -> LabRecord:
    """Build a lab (namespaces, bridge, veths, addresses); on any failure remove it all."""
    record = lab_state.allocate(name or new_lab_name(), list(node_names))
    try:
        _build(record)
    except BaseException:
        destroy_lab(record.name)
        raise
    lab_state.set_state(record.name, "up")
    record.state = "up"
    return record


def _lab_namespaces_by_pattern(name: str) -> list[str]:
    prefix = f"sb-{name}"
    return sorted(ns for ns in existing_namespaces() if ns == prefix or ns.startswith(prefix + "-"))


def _kill_namespace_processes(ns: str) -> None:
    out = _ip("netns", "pids", ns, check=False).stdout
    for word in out.split():
        if word.isdigit():
            procs.kill_and_wait(int(word), None, timeout=5.0)


def destroy_lab(name: str) -> list[str]:
    """Remove everything lab `name` consists of; idempotent. Returns what was removed."""
    lab_state.validate_lab_name(name)
    record = lab_state.load(name)
    removed: list[str] = []
    namespaces = set(_lab_namespaces_by_pattern(name))
    if record is not None:
        for entry in record.pids:
            if procs.same_process(entry.pid, entry.start):
                procs.kill_and_wait(entry.pid, entry.start)
                removed.append(f"pid {entry.pid}")
        namespaces.update(ns for ns in record.namespaces() if ns in existing_namespaces())
    present = existing_namespaces()
    for ns in sorted(namespaces):
        if ns in present:
            _kill_namespace_processes(ns)
    # Nodes first, the lab namespace (bridge + uplink) last.
    for ns in sorted(namespaces, key=lambda n: n == f"sb-{name}"):
        if ns in present and _ip("netns", "delete", ns, check=False).returncode == 0:
            removed.append(f"netns {ns}")
    host_link = record.host_link if record else f"sb{name}"
    if _ip("link", "show", host_link, check=False).returncode == 0:
        _ip("link", "delete", host_link, check=False)
        removed.append(f"link {host_link}")
    lab_state.remove(name)
    return removed


def lab_status(name: str) -> dict[str, object]:
    """What is left of a lab: namespaces present, live recorded pids, owner alive."""
    record = lab_state.load(name)
    present = existing_namespaces()
    if record is None:
        return {
            "name": name,
            "state": "no record",
            "subnet": "?",
            "nodes": 0,
            "namespaces": len(_lab_namespaces_by_pattern(name)),
            "live_pids": 0,
            "owner": "?",
        }
    live = [p.pid for p in record.pids if procs.same_process(p.pid, p.start)]
    owner_alive = procs.process_state(record.owner_pid) is not None
    return {
        "name": name,
        "state": record.state,
        "subnet": record.subnet,
        "nodes": len(record.nodes),
        "namespaces": sum(ns in present for ns in record.namespaces()),
        "live_pids": len(live),
        "owner": f"{record.owner_pid} ({'alive' if owner_alive else 'gone'})",
    }


class NetnsHost(LocalHost):
    """A node in its own network namespace: every command goes through `ip netns exec`.

    The file system and pid namespace are the controller's, so files and signals work
    exactly as for `local`; daemons are additionally recorded in the lab state.
    """

    kind = "netns"

    def __init__(
        self,
        name: str,
        address: str,
        namespace: str,
        lab: str,
        on_daemon: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__(
            name, address, prefix=["ip", "netns", "exec", namespace], on_daemon=self._record
        )
        self.namespace = namespace
        self.lab = lab
        self._also_record = on_daemon  # e.g. the run record (harness.hosts.local_state)

    def _record(self, pid: int) -> None:
        lab_state.add_pid(self.lab, pid, procs.start_time(pid), self.name)
        if self._also_record is not None:
            self._also_record(pid)


def hosts_for(
    record: LabRecord, on_daemon: Callable[[str, int], None] | None = None
) -> dict[str, NetnsHost]:
    """A host per lab node; `on_daemon(node, pid)` is told of every daemon started."""
    return {
        node: NetnsHost(
            node,
            rec.address,
            rec.ns,
            record.name,
            on_daemon=None if on_daemon is None else (lambda pid, n=node: on_daemon(n, pid)),
        )
        for node, rec in record.nodes.items()
    }


@dataclass
class LabHandle:
    """A lab in use by this process; `close` removes it when this process created it."""

    record: LabRecord
    owned: bool

    def close(self) -> None:
        if self.owned:
            destroy_lab(self.record.name)


def attach_lab(name: str, node_names: Sequence[str]) -> LabHandle:
    """Use an existing lab (from `splitbrain lab up`), or create it if absent."""
    record = lab_state.load(name)
    if record is None:
        return LabHandle(create_lab(node_names, name), owned=True)
    missing = [n for n in node_names if n not in record.nodes]
    if missing:
        raise HarnessError(
            f"lab {name!r} has nodes {sorted(record.nodes)}, not {missing}; "
            f"recreate it with splitbrain lab up --nodes {len(node_names)}"
        )
    gone = [ns for ns in record.namespaces() if ns not in existing_namespaces()]
    if gone:
        raise HarnessError(
            f"lab {name!r} is incomplete (missing {gone}); run splitbrain lab down --name {name}"
        )
    return LabHandle(record, owned=False)
