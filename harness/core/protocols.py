"""The seams of the controller: Host, DB, Client, Nemesis and the RunContext faults see.

Each is a small protocol so that cluster kinds (local / netns / ssh), databases
(raftnode, etcd, third-party plug-ins) and faults can be combined freely. The runner
only ever talks to these; nothing above this layer knows which kind of host it drives.

What only some DBs can do is a capability: a one-method protocol (``SupportsClockFile``,
``SupportsBlockPeers``, ``SupportsWalPath``, ``SupportsPid``, ``SupportsBugs``) or the
``Hostless`` marker, tested with ``isinstance``. Why protocols and not ``getattr``
probes: each capability has one name, one signature and one docstring in one place, so
a plug-in author reads here what to implement and every caller asks the same question
the same way.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable


class HarnessError(RuntimeError):
    """A failure the user should read as one clear line (no traceback)."""


class HostError(HarnessError):
    """A command or transfer on a host failed; names the host and the command."""

    def __init__(self, host: str, command: str, detail: str):
        super().__init__(f"host {host}: {command}: {detail}")
        self.host = host
        self.command = command
        self.detail = detail


@dataclass
class CommandResult:
    exit_code: int
    stdout: str
    stderr: str

    def raise_for_exit(self, host: str, command: str) -> CommandResult:
        """HostError naming the exit code and the last line of output, unless it was 0."""
        if self.exit_code != 0:
            lines = (self.stderr.strip() or self.stdout.strip()).splitlines()
            last = lines[-1] if lines else ""
            raise HostError(host, command, f"exit code {self.exit_code}: {last}".rstrip(": "))
        return self


@runtime_checkable
class Host(Protocol):
    """One machine (real, a network namespace, or a slot on loopback) that runs one node.

    `name` is the node name (n1…); `address` is the IP other nodes and the controller
    use to reach it. All paths are on the host. Every argv is a list: implementations
    quote it for their transport, callers never build shell strings.
    """

    name: str
    address: str
    kind: str  # "local" | "netns" | "ssh"

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float = 30.0,
        check: bool = True,
        env: Mapping[str, str] | None = None,
        input: bytes | None = None,
    ) -> CommandResult: ...

    def start_daemon(
        self,
        argv: Sequence[str],
        *,
        log_path: str,
        pid_path: str,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> int:
        """Start detached in its own process group; returns the pid (also in pid_path)."""
        ...

    def signal(self, pid: int, sig: int) -> None:
        """Send `sig` to the daemon's process group; no error if it is already gone."""
        ...

    def is_alive(self, pid: int) -> bool: ...

    def process_state(self, pid: int) -> str | None:
        """The kernel's one-letter state ("R", "S", "T" stopped, "Z"…) or None if gone."""
        ...

    def upload(self, local: Path, remote: str) -> None: ...

    def download(self, remote: str, local: Path) -> None: ...

    def write_file(self, remote: str, data: bytes) -> None: ...

    def read_file(self, remote: str) -> bytes: ...

    def close(self) -> None: ...


@dataclass
class NodeSpec:
    """Where and how one node of the DB runs."""

    name: str
    host: Host
    peer_port: int
    client_port: int
    data_dir: str
    log_path: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def client_address(self) -> str:
        return f"{self.host.address}:{self.client_port}"

    @property
    def peer_address(self) -> str:
        return f"{self.host.address}:{self.peer_port}"


@dataclass
class Probe:
    """What one node says about itself (None fields: it did not answer or does not say)."""

    node: str
    reachable: bool
    role: str | None = None
    term: int | None = None
    leader: str | None = None
    commit_index: int | None = None
    applied_index: int | None = None
    clock_ns: int | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class DB(Protocol):
    """A database under test. One instance manages all nodes of a cluster."""

    name: str

    def setup(self, nodes: Sequence[NodeSpec], options: Mapping[str, Any]) -> None:
        """Install/upload what the nodes need and prepare data dirs (not yet started)."""
        ...

    def start(self, node: str) -> None: ...

    def kill(self, node: str) -> None:
        """SIGKILL the node; return once the process is gone."""
        ...

    def pause(self, node: str) -> None: ...

    def resume(self, node: str) -> None: ...

    def is_running(self, node: str) -> bool: ...

    def probe(self, node: str, timeout: float = 1.0) -> Probe: ...

    def teardown(self) -> None:
        """Stop every node this DB started (by pid), always safe to call twice."""
        ...

    def log_files(self, node: str) -> dict[str, str]:
        """Remote paths to collect: {"node.log": ..., "events.jsonl": ..., ...}."""
        ...

    def client(self, node: str) -> Client: ...


@dataclass
class ClientResult:
    """Outcome of one client op: type is "ok", "fail" or "info"; value is the result."""

    type: str
    value: Any = None
    error: str | None = None


@runtime_checkable
class Client(Protocol):
    """A connection to one node. `invoke` never raises for DB errors: it classifies them.

    A timeout or a connection lost after the request was sent is "info" (the op may have
    happened); an error that proves the op did not happen is "fail".
    """

    def open(self) -> None: ...

    def invoke(self, f: str, key: Any, value: Any, timeout: float) -> ClientResult: ...

    def close(self) -> None: ...


# ----------------------------------------------------------------- DB capabilities


@runtime_checkable
class SupportsClockFile(Protocol):
    """The clock nemesis can move this DB's wall clocks: with ``options["faketime"]`` set at
    setup, each node starts under libfaketime (``harness.core.faketime.faketime_env``)
    reading its offset from this file on the node's host (None: not started that way)."""

    def clock_file(self, node: str) -> str | None: ...


@runtime_checkable
class SupportsBlockPeers(Protocol):
    """Partitions without a network stack to cut (the ``local`` kind): the node itself
    drops all traffic to and from ``peers`` until called again with ``[]``."""

    def block_peers(self, node: str, peers: list[str]) -> None: ...


@runtime_checkable
class SupportsPeerShaping(Protocol):
    """Message chaos inside the DB (raftnode's POST /admin/network): ``node`` drops,
    duplicates, delays and reorders its outgoing peer messages with the probabilities in
    ``settings`` (``drop``, ``duplicate``, ``delay``, ``reorder``, ``delay_ms``,
    ``reorder_ms``, ``peers``); None or ``{}`` turns it off. The DB re-applies the
    settings when it restarts the node. A DB without it (or with ``shape_peers = None``)
    cannot take the packet nemesis's ``chaos`` mode."""

    def shape_peers(self, node: str, settings: Mapping[str, Any] | None) -> None: ...


def peer_shaper(db: object) -> SupportsPeerShaping | None:
    """``db`` if it can shape peer messages (a callable ``shape_peers``), else None."""
    return db if callable(getattr(db, "shape_peers", None)) else None  # type: ignore[return-value]


class SupportsDiskDelay(Protocol):
    """Slow disks inside the DB (raftnode's POST /admin/disk, like etcd's gofail sleeps
    around WAL saves): each of ``node``'s fsyncs is acknowledged ``delay_ms`` plus a random
    0..``jitter_ms`` late; None or ``{}`` turns it off. The DB re-applies the settings when
    it restarts the node. A DB without it cannot take the disk nemesis's ``slow`` mode."""

    def delay_disk(self, node: str, settings: Mapping[str, Any] | None) -> None: ...


def disk_delayer(db: object) -> SupportsDiskDelay | None:
    """``db`` if it can slow its nodes' disks (a callable ``delay_disk``), else None."""
    return db if callable(getattr(db, "delay_disk", None)) else None  # type: ignore[return-value]


@runtime_checkable
class SupportsPreflight(Protocol):
    """The DB's own refusals before anything starts (a missing binary, an option it
    does not know, a fault it cannot take): ``preflight(spec)`` raises HarnessError
    with one line naming the fix. ``harness.spec.validate_spec`` calls it."""

    def preflight(self, spec: Any) -> None: ...


@runtime_checkable
class SupportsVersion(Protocol):
    """The DB can say which version it runs (recorded in ``<store>/db.json`` and in
    results.json as ``db_version``); None when it cannot tell."""

    def version(self) -> str | None: ...


@runtime_checkable
class PolledStatus(Protocol):
    """The DB's nodes write no Raft events of their own: the runner's status poller
    (``harness.status_poller``) samples ``probe()`` and writes role/vote/commit events
    for them. ``evidence_limits`` names the safety properties that sampled status cannot
    show, and why. Declared by ``poll_status = True``."""

    poll_status: Literal[True]
    evidence_limits: dict[str, str]


@runtime_checkable
class RoutesPeerTraffic(Protocol):
    """The DB carries its nodes' peer traffic itself (the Maelstrom DB routes every
    message through the controller), so host-level routes never touch it: partitions go
    through its SupportsBlockPeers hook on every cluster kind. ``routes_peer_traffic = True``."""

    routes_peer_traffic: Literal[True]


@runtime_checkable
class SupportsWalPath(Protocol):
    """The disk nemesis can damage this DB's write-ahead log: its path on the node's host."""

    def wal_path(self, node: str) -> str: ...


@runtime_checkable
class SupportsDataDir(Protocol):
    """A DB whose nodes write ``events.jsonl`` in their data directory on their host
    (raftnode), so the online watcher can read node events during the run."""

    def data_dir(self, node: str) -> str: ...


@runtime_checkable
class SupportsPid(Protocol):
    """The node's process id on its host (None while it is down), so faults can check a
    kill or a pause at the process level and the controller log can name it."""

    def pid(self, node: str) -> int | None: ...


@runtime_checkable
class SupportsBugs(Protocol):
    """The DB has planted bugs (``--bug NAME``). ``check_bugs`` raises ValueError with one
    line naming the unknown names and the known ones; the spec calls it before anything
    starts, and the names reach ``setup`` as ``options["bugs"]``. A DB without it takes
    no bugs."""

    def check_bugs(self, names: Sequence[str]) -> None: ...


@runtime_checkable
class Hostless(Protocol):
    """The DB runs inside the controller (the null DB): no cluster is opened, ``setup``
    gets node names instead of NodeSpecs, and only faults that go through the DB itself
    (``nemeses.HOSTLESS_FAULTS``) apply. Declared by a class attribute ``hostless = True``."""

    hostless: Literal[True]


def is_hostless(db: object) -> bool:
    """Whether ``db`` declares the Hostless capability."""
    return isinstance(db, Hostless) and db.hostless is True


# ----------------------------------------------------------------- what faults see


class ClusterView(Protocol):
    """What faults see of a cluster: its kind and the Host running each node."""

    @property
    def kind(self) -> str: ...

    @property
    def hosts(self) -> Mapping[str, Host]: ...


class RunContext(Protocol):
    """The running test as every Nemesis method gets it (``harness.context.TestContext``
    is the real one; tests may pass any object of this shape). ``cluster`` is None for a
    Hostless DB; ``leader()`` probes the nodes and names the current leader, if any."""

    @property
    def cluster(self) -> ClusterView | None: ...

    @property
    def db(self) -> DB: ...

    @property
    def nodes(self) -> Sequence[str]: ...

    @property
    def rng(self) -> random.Random: ...

    @property
    def log(self) -> logging.Logger: ...

    def leader(self) -> str | None: ...


@runtime_checkable
class Nemesis(Protocol):
    """A family of faults. `invoke` applies one fault op and returns what was done
    (recorded as the nemesis completion's value); `heal_all` undoes every fault this
    nemesis may have caused and is idempotent."""

    name: str
    fs: tuple[str, ...]  # the op names it handles, e.g. ("start-partition", "stop-partition")

    def setup(self, ctx: RunContext) -> None: ...

    def invoke(self, f: str, value: Any, ctx: RunContext) -> Any: ...

    def heal_all(self, ctx: RunContext) -> None: ...

    def teardown(self, ctx: RunContext) -> None: ...
