"""EtcdDB: deploys and controls an etcd 3.4 cluster on any kind of Host.

Each node is one `etcd` process: ``--name <node>``, its data dir under the node dir,
peer and client URLs on the ports the NodeSpec gives (distinct free ports on `local`,
7001/8001 in a namespace or on an SSH host), a fresh ``--initial-cluster-token`` per
setup, zap logs to stderr (collected as ``nodes/<node>/node.log``). Clients speak the
v3 HTTP/JSON gateway (harness/dbs/etcd_client.py).

Process control (start_daemon, SIGKILL/SIGSTOP/SIGCONT by pid, teardown) is the same as
raftnode's and is inherited from RaftnodeDB; raftnode's own hooks (`block_peers`,
`wal_path`) are switched off, because etcd has neither a partition hook nor the
"bytes fsynced" report the disk nemesis needs.

Faults on etcd:
- kill, pause: by pid, any kind. partition, packet: through the network (netns, ssh);
  on `local` the nemesis refuses (etcd cannot cut its own peer links).
- clock: refused. etcd is a Go program; Go reads the wall clock through the vDSO, not
  libc, so libfaketime's LD_PRELOAD never moves it (checked by hand with etcd 3.4.23:
  log timestamps and the HTTP Date header stay on real time under a +3600 s offset).
- disk: refused. The disk nemesis damages a WAL *past its last reported fsync*; etcd
  fsyncs every batch of entries before it acknowledges it, reports no fsynced offset,
  and preallocates its 64 MB WAL segments, so the only "tail" is zeros. Flipping synced
  bytes would be media corruption, which etcd is documented to refuse (crc mismatch).

Startup: a member's client port only serves once the member has published itself
through Raft, i.e. once a quorum runs. So `start` returns when the client port answers
as this member (``/debug/vars`` names its ``--name`` and data dir), or, while fewer than
a majority of members run, or after ``READY_GRACE_S`` of the peer port listening, once
the peer port accepts connections: the member is up and waiting for its peers.

Status: ``/debug/vars`` carries ``raft.status``, one consistent snapshot of the node's
Raft state (term, vote, lead, raftState, commit, applied). ``/v3/maintenance/status``
is not used for roles: its ``raftTerm`` is the term of the last *applied* entry
(etcdserver sets it while applying), so right after an election a new leader reports
the previous term while the deposed one may still report it too — two "leaders" in one
term on a healthy cluster.
"""

from __future__ import annotations

import logging
import posixpath
import shlex
import shutil
import socket
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.core.protocols import HarnessError, HostError, NodeSpec, Probe
from harness.dbs.etcd_client import EtcdClient
from harness.dbs.raftnode import RaftnodeDB, _Node
from harness.dbs.raftnode_client import get_json
from nemeses.base import wait_until

log = logging.getLogger("splitbrain")

INSTALL_HINT = (
    "install it with `apt-get install etcd-server`, or point the etcd_bin db option "
    "at one (--db-option etcd_bin=PATH)"
)
READY_GRACE_S = 5.0
ROLES = {
    "StateLeader": "leader",
    "StateFollower": "follower",
    "StateCandidate": "candidate",
    "StatePreCandidate": "pre-candidate",
}
UNSUPPORTED_FAULTS = {
    "clock": (
        "etcd is a Go program and Go reads the wall clock through the vDSO, so libfaketime "
        "cannot move it; drop clock from --nemesis for etcd"
    ),
    "disk": (
        "etcd fsyncs its WAL before acknowledging and reports no fsynced offset, so there is "
        "no unsynced tail to damage; drop disk from --nemesis for etcd"
    ),
}
# What the Raft safety checker cannot check on etcd, and why (written with the events).
EVIDENCE_LIMITS = {
    "log-matching": "etcd exposes no per-entry terms or digests",
    "leader-append-only": "etcd exposes no log append or truncate events",
    "leader-completeness": "etcd exposes commit indexes but not which entries a new leader holds",
    "state-machine-safety": "etcd exposes no per-entry digests of applied or committed entries",
}


@dataclass
class EtcdSettings:
    """The etcd db options (``--db-option KEY=VALUE`` / ``db_options:``), validated."""

    etcd_bin: str = "etcd"
    snapshot_count: int | None = None
    heartbeat_ms: int | None = None
    election_ms: int | None = None
    serializable: bool = False
    extra_flags: list[str] = field(default_factory=list)
    log_level: str = "info"
    version: str | None = None
    start_timeout_s: float = 30.0

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> EtcdSettings:
        """Settings from a DB's options; the harness's own keys (bugs, seed, faketime)
        are skipped, anything else unknown is an error naming the option."""
        names = {f for f in cls.__dataclass_fields__}
        settings = cls()
        for key, raw in options.items():
            if key in ("bugs", "seed", "faketime"):
                continue
            if key not in names:
                raise HarnessError(
                    f"db etcd: unknown db option {key!r} (known: {', '.join(sorted(names))})"
                )
            setattr(settings, key, _option(key, raw))
        return settings


def _option(key: str, raw: Any) -> Any:
    where = f"db etcd: db option {key}"
    if key in ("snapshot_count", "heartbeat_ms", "election_ms"):
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
            raise HarnessError(f"{where}: expected an integer >= 1, got {raw!r}")
        return raw
    if key == "serializable":
        if not isinstance(raw, bool):
            raise HarnessError(f"{where}: expected true or false, got {raw!r}")
        return raw
    if key == "start_timeout_s":
        if isinstance(raw, bool) or not isinstance(raw, int | float) or raw <= 0:
            raise HarnessError(f"{where}: expected seconds > 0, got {raw!r}")
        return float(raw)
    if key == "extra_flags":
        if isinstance(raw, str):
            return shlex.split(raw)
        if isinstance(raw, list) and all(isinstance(x, str) for x in raw):
            return list(raw)
        raise HarnessError(f"{where}: expected a list of flags or one string, got {raw!r}")
    if not isinstance(raw, str | int | float) or isinstance(raw, bool) or not str(raw).strip():
        raise HarnessError(f"{where}: expected a non-empty string, got {raw!r}")
    return str(raw).strip()


def parse_version(output: str) -> str | None:
    """ "3.4.23" from `etcd --version` ("etcd Version: 3.4.23\\nGit SHA: …")."""
    for line in output.splitlines():
        if line.lower().startswith("etcd version:"):
            return line.split(":", 1)[1].strip()
    return None


def host_version(host: Any, etcd_bin: str) -> str:
    """The etcd version on `host`; HostError naming the fix if there is no etcd."""
    command = f"{etcd_bin} --version"
    try:
        result = host.run([etcd_bin, "--version"], check=False, timeout=30.0)
    except HarnessError:
        raise HostError(host.name, command, f"etcd not found: {INSTALL_HINT}") from None
    if result.exit_code in (126, 127):  # the shell's "not executable" / "not found"
        raise HostError(host.name, command, f"etcd not found: {INSTALL_HINT}")
    version = parse_version(result.stdout) if result.exit_code == 0 else None
    if version is None:
        raise HostError(
            host.name, command, f"not an etcd binary (exit {result.exit_code}): {INSTALL_HINT}"
        )
    return version


def faults_of(spec: Any) -> list[str]:
    """The fault names a spec enables, also those only its explicit schedule names."""
    from nemeses.schedule import explicit_ops, faults_in

    names = list(spec.nemesis)
    schedule = [e.to_dict() for e in spec.nemesis_schedule]
    if schedule:
        names += faults_in(explicit_ops(schedule))
    return list(dict.fromkeys(names))


class _EtcdNode(_Node):
    @property
    def pid_path(self) -> str:
        return posixpath.join(self.node_dir, "etcd.pid")


class EtcdDB(RaftnodeDB):
    """The DB protocol for etcd 3.4; one instance manages every member of a cluster."""

    name = "etcd"
    # etcd writes no raftnode-style events: the runner's status poller samples probe()
    # and writes them (harness/status_poller.py), with these limits on what they show.
    poll_status = True
    evidence_limits = EVIDENCE_LIMITS
    block_peers = None  # no partition hook: partitions need the netns or ssh kind
    wal_path = None  # no disk faults (see the module docstring)

    def __init__(self, start_timeout: float = 30.0) -> None:
        super().__init__(start_timeout)
        self.settings = EtcdSettings()
        self.token = ""
        self.versions: dict[str, str] = {}
        self._ids: dict[int, str] = {}

    # -- checks before anything starts ---------------------------------------------------
    def preflight(self, spec: Any) -> None:
        """Refuse what cannot work, before any cluster starts: bad db options, planted
        bugs (raftnode's), clock/disk faults, a missing binary on this machine."""
        settings = EtcdSettings.from_options(spec.db_options)
        if spec.bugs:
            raise HarnessError(
                f"db etcd: --bug {spec.bugs[0]}: planted bugs are raftnode's; etcd has none"
            )
        for fault in faults_of(spec):
            if fault in UNSUPPORTED_FAULTS:
                raise HarnessError(
                    f"db etcd: {fault} faults are not supported: {UNSUPPORTED_FAULTS[fault]}"
                )
        if spec.cluster == "local" and "partition" in faults_of(spec):
            raise HarnessError(
                "db etcd: partition on the local kind needs a DB partition hook and etcd has "
                "none: use --cluster netns (root) or ssh"
            )
        if spec.cluster != "ssh":  # ssh hosts are checked in setup, on each host
            path = shutil.which(settings.etcd_bin)
            if path is None:
                raise HarnessError(f"db etcd: no etcd binary {settings.etcd_bin!r}: {INSTALL_HINT}")
            if settings.version is not None:
                from harness.hosts.local import LocalHost

                found = host_version(LocalHost("controller"), path)
                _check_version(found, settings.version, path)

    # -- lifecycle ------------------------------------------------------------------------
    def setup(self, nodes: Sequence[NodeSpec], options: Mapping[str, Any]) -> None:
        """Check the binary (and its version) on every host, make the node dirs."""
        self.settings = EtcdSettings.from_options(options)
        if options.get("faketime"):
            raise HarnessError(
                f"db etcd: clock faults are not supported: {UNSUPPORTED_FAULTS['clock']}"
            )
        if options.get("bugs"):
            raise HarnessError("db etcd: planted bugs are raftnode's; etcd has none")
        self._options = dict(options)
        self.start_timeout = self.settings.start_timeout_s
        self.token = f"splitbrain-{uuid.uuid4().hex[:12]}"
        self._nodes, self.versions, self._ids = {}, {}, {}
        checked: dict[int, str] = {}
        for spec in nodes:
            host = spec.host
            if id(host) not in checked:
                checked[id(host)] = host_version(host, self.settings.etcd_bin)
                if self.settings.version is not None:
                    _check_version(
                        checked[id(host)], self.settings.version, self.settings.etcd_bin, host.name
                    )
            self.versions[spec.name] = checked[id(host)]
            rec = _EtcdNode(spec=spec, python="", code_dir="")
            host.run(["mkdir", "-p", rec.node_dir, posixpath.dirname(spec.log_path)])
            self._nodes[spec.name] = rec
        log.info("etcd %s (%s)", self.version(), self.settings.etcd_bin)

    def version(self) -> str | None:
        """The etcd version the nodes run ("3.4.23"; per node if the hosts differ)."""
        distinct = sorted(set(self.versions.values()))
        if len(distinct) <= 1:
            return distinct[0] if distinct else None
        return ", ".join(f"{n}={v}" for n, v in self.versions.items())

    def command(self, node: str) -> list[str]:
        """The argv that starts member `node`."""
        rec = self._node(node)
        s, spec = self.settings, rec.spec
        bind = "127.0.0.1" if spec.host.kind == "local" else "0.0.0.0"
        cluster = ",".join(f"{n}=http://{r.spec.peer_address}" for n, r in self._nodes.items())
        argv = [
            s.etcd_bin,
            "--name", node,
            "--data-dir", spec.data_dir,
            "--listen-peer-urls", f"http://{bind}:{spec.peer_port}",
            "--initial-advertise-peer-urls", f"http://{spec.peer_address}",
            "--listen-client-urls", f"http://{bind}:{spec.client_port}",
            "--advertise-client-urls", f"http://{spec.client_address}",
            "--initial-cluster", cluster,
            "--initial-cluster-state", "new",
            "--initial-cluster-token", self.token,
            "--logger", "zap", "--log-outputs", "stderr", "--log-level", s.log_level,
        ]  # fmt: skip
        for value, flag in (
            (s.snapshot_count, "--snapshot-count"),
            (s.heartbeat_ms, "--heartbeat-interval"),
            (s.election_ms, "--election-timeout"),
        ):
            if value is not None:
                argv += [flag, str(value)]
        return argv + s.extra_flags

    def _env(self, rec: _Node) -> dict[str, str]:
        return {}

    def _wait_ready(self, rec: _Node, argv: list[str]) -> None:
        """Poll until the member is ready (see the module docstring) or has exited."""
        listening: dict[str, float] = {}
        host, pid = rec.spec.host, rec.pid
        assert pid is not None
        settled = wait_until(
            lambda: not host.is_alive(pid) or self._ready(rec, listening), self.start_timeout
        )
        if settled and host.is_alive(pid):
            return
        command, tail = " ".join(argv), self._log_tail(rec)
        if not host.is_alive(pid):
            rec.pid = None
            raise HostError(host.name, command, f"exited during start: {tail}")
        self.kill(rec.spec.name)
        raise HostError(
            host.name,
            command,
            f"peer port {rec.spec.peer_port} not listening after {self.start_timeout:g}s: {tail}",
        )

    def _ready(self, rec: _Node, listening: dict[str, float]) -> bool:
        """Serving as this member, or listening for peers while no quorum runs (or for
        READY_GRACE_S): then it waits for its peers and refuses clients until then."""
        if self._answers_as(rec):
            return True
        if not _port_open(rec.spec.host.address, rec.spec.peer_port):
            return False
        since = listening.setdefault("since", time.monotonic())
        return not self._quorum_running() or time.monotonic() - since >= READY_GRACE_S

    def _answers_as(self, rec: _Node) -> bool:
        """The client port serves, and it is this member (its own command line)."""
        try:
            status, body = get_json(rec.spec.host.address, rec.spec.client_port, "/debug/vars", 2.0)
        except OSError:
            return False
        cmdline = body.get("cmdline", []) if isinstance(body, dict) else []
        return status == 200 and rec.spec.name in cmdline and rec.spec.data_dir in cmdline

    def _quorum_running(self) -> bool:
        running = sum(1 for n in self._nodes if self.is_running(n))
        return running >= len(self._nodes) // 2 + 1

    def teardown(self) -> None:
        try:
            super().teardown()
        except HarnessError as exc:
            raise HarnessError(str(exc).replace("raftnode", "etcd", 1)) from None

    # -- status ---------------------------------------------------------------------------
    def probe(self, node: str, timeout: float = 1.0) -> Probe:
        """Role, term, leader, vote, commit and applied index from ``raft.status``."""
        rec = self._node(node)
        try:
            status, body = get_json(
                rec.spec.host.address, rec.spec.client_port, "/debug/vars", timeout
            )
        except OSError:
            return Probe(node=node, reachable=False)
        raft = body.get("raft.status") if isinstance(body, dict) else None
        if status != 200 or not isinstance(raft, dict):
            return Probe(node=node, reachable=False)
        self._ids[_member_id(raft.get("id"))] = node
        leader = self._name_of(rec, _member_id(raft.get("lead")), timeout)
        vote = self._name_of(rec, _member_id(raft.get("vote")), timeout)
        return Probe(
            node=node,
            reachable=True,
            role=ROLES.get(str(raft.get("raftState")), str(raft.get("raftState"))),
            term=_int(raft.get("term")),
            leader=leader,
            commit_index=_int(raft.get("commit")),
            applied_index=_int(raft.get("applied")),
            raw={"raft": raft, "voted_for": vote, "pid": rec.pid},
        )

    def _name_of(self, rec: _Node, member: int, timeout: float) -> str | None:
        """The node name of a member id (0: none), learning unknown ids from the member list."""
        if member == 0:
            return None
        if member not in self._ids:
            try:
                body = EtcdClient(rec.spec.host.address, rec.spec.client_port).call(
                    "/v3/cluster/member/list", {}, timeout
                )
            except Exception:  # noqa: BLE001 - an unknown name is just not reported
                return None
            for m in body.get("members") or []:
                if m.get("name"):
                    self._ids[_member_id(m.get("ID"), base=10)] = str(m["name"])
        return self._ids.get(member)

    # -- files, clients, hooks ------------------------------------------------------------
    def log_files(self, node: str) -> dict[str, str]:
        return {"node.log": self._node(node).spec.log_path}

    def client(self, node: str) -> EtcdClient:
        rec = self._node(node)
        return EtcdClient(
            rec.spec.host.address,
            rec.spec.client_port,
            node=node,
            serializable=self.settings.serializable,
        )

    def clock_file(self, node: str) -> str | None:
        raise HarnessError(
            f"db etcd: clock faults are not supported: {UNSUPPORTED_FAULTS['clock']}"
        )


def _check_version(found: str, wanted: str, etcd_bin: str, host: str = "this machine") -> None:
    if found != wanted and not found.startswith(wanted + "."):
        raise HarnessError(
            f"db etcd: {etcd_bin} on {host} is etcd {found}, not {wanted}: point the etcd_bin "
            "db option at an etcd of that version"
        )


def _member_id(raw: Any, base: int = 16) -> int:
    """A member id from raft.status (hex) or the gateway (decimal string); 0 if absent."""
    try:
        return int(str(raw), base) if raw not in (None, "") else 0
    except ValueError:
        return 0


def _int(raw: Any) -> int | None:
    try:
        return int(raw)
    except (TypeError, ValueError):
        return None


def _port_open(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False
