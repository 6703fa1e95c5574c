"""MaelstromDB: any Maelstrom-protocol node binary as a splitbrain DB, on any cluster kind.

Each node is the binary (``--bin PATH`` plus ``--bin-arg`` arguments, db options ``bin``
and ``bin_args``) started by the stdlib shim (`shim.py`) through ``Host.start_daemon``, in
its node's data directory (its cwd: a binary that persists state writes relative paths).
The controller connects to every shim and is the network (`network.py`): it sends
``init`` with the node ids, routes node-to-node messages with the configured latency,
partitions by dropping (the `block_peers` hook, on every kind — see
``routes_peer_traffic``), and talks lin-kv to the nodes as clients ``c1``, ``c2``, ….
kill is SIGKILL of the shim's process group (the binary with it); a restart sends
``init`` again with the same ids. pause is SIGSTOP/SIGCONT of that group.

Process control and code upload are RaftnodeDB's (the shim is a python program started
like raftnode; on ssh hosts the raftnode package is uploaded too, so
``python3 -m raftnode --maelstrom`` works there as well).

db options: ``bin``, ``bin_args``, ``latency_ms`` (0), ``latency_dist``
(constant|uniform|exponential), ``init_timeout_s`` (10), ``upload_bin`` (ssh: copy a
local --bin file to the hosts; default true when it exists here).
"""

from __future__ import annotations

import itertools
import os
import posixpath
import re
import shutil
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core.faketime import faketime_env
from harness.core.protocols import HarnessError, HostError, NodeSpec, Probe
from harness.dbs.maelstrom.client import MaelstromClient
from harness.dbs.maelstrom.network import LATENCY_DISTS, Latency, MaelstromNetwork
from harness.dbs.maelstrom.protocol import SUPPORTED_WORKLOADS
from harness.dbs.maelstrom.shim import PREFIX as SHIM_PREFIX
from harness.dbs.options import opt_args, opt_bool, opt_choice, opt_float, opt_str
from harness.dbs.raftnode import RaftnodeDB, _Node

SHIM_FILE = Path(__file__).resolve().parent / "shim.py"
MESSAGES_FILE = "maelstrom-messages.jsonl"
PROBE_KEY = "__splitbrain_probe__"
INIT_CLIENT = "c0"  # the controller's id for init and probe reads; workload clients are c1…
CONNECT_TIMEOUT_S = 15.0
_EXIT_RE = re.compile(r"exited with code (-?\d+)")


def _problem(message: str) -> HarnessError:
    return HarnessError(f"db maelstrom: {message}")


@dataclass
class MaelstromConfig:
    """The validated db options of one run."""

    bin: str
    bin_args: list[str] = field(default_factory=list)
    latency: Latency = Latency()
    init_timeout_s: float = 10.0
    upload_bin: bool | None = None

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> MaelstromConfig:
        binary = opt_str("maelstrom", options, "bin")
        if binary is None:
            raise _problem("needs the node binary: --bin PATH (db option bin)")
        return cls(
            bin=binary,
            bin_args=opt_args("maelstrom", options, "bin_args"),
            latency=Latency(
                opt_float("maelstrom", options, "latency_ms", 0.0),
                opt_choice("maelstrom", options, "latency_dist", "constant", LATENCY_DISTS),
            ),
            init_timeout_s=opt_float("maelstrom", options, "init_timeout_s", 10.0, minimum=0.1),
            upload_bin=opt_bool("maelstrom", options, "upload_bin", True)
            if "upload_bin" in options
            else None,
        )


def resolve_local_bin(binary: str) -> str:
    """An absolute path for a binary on this machine (nodes run in another cwd)."""
    if "/" in binary:
        path = os.path.abspath(binary)
        if not os.path.isfile(path):
            raise _problem(f"binary {binary} does not exist (--bin PATH)")
        if not os.access(path, os.X_OK):
            raise _problem(
                f"binary {binary} is not executable (chmod +x it, or run it through its "
                f"interpreter: --bin python3 --bin-arg {path})"
            )
        return path
    found = shutil.which(binary)
    if found is None:
        raise _problem(f"binary {binary!r} is not on PATH (give a path with --bin)")
    return found


class MaelstromDB(RaftnodeDB):
    """The DB protocol for Maelstrom nodes; one instance runs the whole cluster and its network."""

    name = "maelstrom"
    # Peer traffic flows through this controller, not the hosts' network: partitions
    # go through block_peers on every cluster kind (nemeses.partition honours this).
    routes_peer_traffic = True
    wal_path = None  # an arbitrary binary has no WAL we know of: no disk faults
    check_bugs = None  # raftnode's planted bugs are not this DB's: --bug is refused
    # What lin-kv can express; the first is run when no workload was named (harness.spec).
    workloads = SUPPORTED_WORKLOADS

    def __init__(self, start_timeout: float = 30.0) -> None:
        super().__init__(start_timeout)
        self.config: MaelstromConfig | None = None
        self.network: MaelstromNetwork | None = None
        self._bins: dict[str, str] = {}  # node -> binary path on its host
        self._shims: dict[str, str] = {}
        self._client_ids = itertools.count(1)

    # -- spec-time checks -----------------------------------------------------------
    @classmethod
    def preflight(cls, spec: Any) -> None:
        """Before anything starts: a workload lin-kv can express and a binary to run."""
        if spec.workload not in SUPPORTED_WORKLOADS:
            raise _problem(
                f"workload {spec.workload!r} is not supported by the Maelstrom lin-kv protocol "
                f"(read/write/cas only; use --workload {' or '.join(SUPPORTED_WORKLOADS)})"
            )
        faults = set(spec.nemesis) | {str(e.f).split("-", 1)[-1] for e in spec.nemesis_schedule}
        useless = sorted(faults & {"packet", "disk"})
        if useless:
            raise _problem(
                f"fault {', '.join(useless)} cannot reach Maelstrom nodes (their traffic goes "
                "through the controller, and an arbitrary binary has no known WAL); use "
                "--db-option latency_ms=… for slow links, and partition, kill, pause, clock"
            )
        config = MaelstromConfig.from_options(spec.db_options)
        if spec.cluster != "ssh":
            resolve_local_bin(config.bin)

    # -- lifecycle ------------------------------------------------------------------
    def setup(self, nodes: Sequence[NodeSpec], options: Mapping[str, Any]) -> None:
        self.config = config = MaelstromConfig.from_options(options)
        for spec in nodes:
            # A fresh test starts from nothing, also on ssh hosts whose workdir persists.
            spec.host.run(["rm", "-rf", spec.data_dir])
        super().setup(nodes, options)
        for spec in nodes:
            host = spec.host
            rec = self._node(spec.name)
            if host.kind == "ssh":
                workdir = posixpath.dirname(rec.code_dir)
                shim = posixpath.join(workdir, "maelstrom-shim.py")
                host.write_file(shim, SHIM_FILE.read_bytes())
                self._shims[spec.name] = shim
                self._bins[spec.name] = self._upload_bin(spec, workdir, config)
            else:
                self._shims[spec.name] = str(SHIM_FILE)
                self._bins[spec.name] = resolve_local_bin(config.bin)
        store_dir = options.get("store_dir")
        log_path = Path(str(store_dir)) / MESSAGES_FILE if store_dir else None
        if self.network is not None:
            self.network.close()
        self.network = MaelstromNetwork(
            [spec.name for spec in nodes],
            latency=config.latency,
            seed=int(options.get("seed") or 0),
            log_path=log_path,
        )

    @staticmethod
    def _upload_bin(spec: NodeSpec, workdir: str, config: MaelstromConfig) -> str:
        local = Path(config.bin)
        upload = config.upload_bin if config.upload_bin is not None else local.is_file()
        if not upload:
            return config.bin  # a path or command name on the host itself
        if not local.is_file():
            raise _problem(f"upload_bin: {config.bin} is not a file on this machine")
        remote = posixpath.join(workdir, "maelstrom-bin", local.name)
        spec.host.run(["mkdir", "-p", posixpath.dirname(remote)])
        spec.host.write_file(remote, local.read_bytes())
        spec.host.run(["chmod", "+x", remote])
        return remote

    def command(self, node: str) -> list[str]:
        """The shim's argv, with the binary after ``--``."""
        rec = self._node(node)
        assert self.config is not None
        bind = "127.0.0.1" if rec.spec.host.kind == "local" else "0.0.0.0"
        argv = [rec.python, self._shims[node], "--listen", f"{bind}:{rec.spec.client_port}"]
        if self._options.get("faketime"):
            # Only the binary runs under libfaketime: the shim's threads need a sane clock.
            argv += [f"--env={key}={value}" for key, value in faketime_env(rec.clock_path).items()]
        return [*argv, "--", self._bins[node], *self.config.bin_args]

    def _env(self, rec: _Node) -> dict[str, str]:
        return {"PYTHONPATH": rec.code_dir, "PYTHONUNBUFFERED": "1"}

    def start(self, node: str) -> None:
        """Start the shim and binary, connect, send init; return once init_ok arrived."""
        rec = self._node(node)
        host = rec.spec.host
        if rec.pid is not None and host.is_alive(rec.pid):
            return
        assert self.network is not None and self.config is not None
        rec.pid = host.start_daemon(
            self.command(node),
            log_path=rec.spec.log_path,
            pid_path=posixpath.join(rec.node_dir, "maelstrom.pid"),
            env=self._env(rec),
            cwd=rec.spec.data_dir,
        )
        sock = self._connect(rec)
        link = self.network.attach(node, sock)
        body = {"type": "init", "node_id": node, "node_ids": list(self._nodes)}
        reply, why = self.network.rpc(INIT_CLIENT, node, body, self.config.init_timeout_s)
        if reply is not None and reply.get("type") == "init_ok" and not link.garbage:
            link.ready = True
            return
        self._failed_start(rec, link.garbage_samples, reply, why)

    def _connect(self, rec: _Node) -> socket.socket:
        host = rec.spec.host
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while True:
            try:
                sock = socket.create_connection((host.address, rec.spec.client_port), timeout=2.0)
                sock.settimeout(None)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return sock
            except OSError:
                pass
            assert rec.pid is not None
            if not host.is_alive(rec.pid) or time.monotonic() > deadline:
                self._failed_start(rec, [], None, "the shim did not accept a connection")
            time.sleep(0.05)

    def _failed_start(
        self, rec: _Node, garbage: list[str], reply: dict[str, Any] | None, why: str
    ) -> None:
        """Stop what is left of the node and raise one line naming binary and stderr."""
        assert self.config is not None
        host, pid = rec.spec.host, rec.pid
        deadline = time.monotonic() + 3.0
        while pid is not None and not garbage and why != "timeout" and host.is_alive(pid):
            if time.monotonic() > deadline:  # the link closed: the shim is on its way out
                break
            time.sleep(0.02)
        exited = pid is None or not host.is_alive(pid)
        try:
            self.kill(rec.spec.name)
        except HarnessError:
            pass
        stderr, code = self._stderr_tail(rec)
        who = f"node {rec.spec.name}: binary {self.config.bin}"
        if garbage:
            problem = (
                f"printed a line on stdout that is not a Maelstrom message: {garbage[0][:120]!r} "
                "(stdout carries protocol JSON only; log to stderr)"
            )
        elif reply is not None:
            problem = f"answered init with {reply.get('type')!r} instead of init_ok"
        elif exited or code is not None or "closed" in why:
            problem = "exited during start" + (f" (exit code {code})" if code is not None else "")
        else:
            problem = f"no init_ok within {self.config.init_timeout_s:g} s ({why})"
        raise _problem(f"{who} {problem}; last stderr line: {stderr}")

    def _stderr_tail(self, rec: _Node) -> tuple[str, int | None]:
        """The binary's last stderr line (not the shim's) and the exit code the shim logged."""
        try:
            text = rec.spec.host.read_file(rec.spec.log_path).decode(errors="replace")
        except HostError:
            return "(no log)", None
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        code = None
        own = [line for line in lines if not line.startswith(SHIM_PREFIX)]
        shim = [line for line in lines if line.startswith(SHIM_PREFIX)]
        if shim and (match := _EXIT_RE.search(shim[-1])):
            code = int(match.group(1))
        if shim and "cannot run" in shim[-1]:
            return shim[-1][len(SHIM_PREFIX) :].strip(), 127
        return (own[-1] if own else "(nothing on stderr)"), code

    def kill(self, node: str) -> None:
        super().kill(node)
        if self.network is not None:
            self.network.detach(node)

    def teardown(self) -> None:
        try:
            super().teardown()
        finally:
            if self.network is not None:
                self.network.close()

    # -- observation, clients, faults -----------------------------------------------
    def probe(self, node: str, timeout: float = 1.0) -> Probe:
        """Reachable once initialized; a read of a probe key tells whether the node serves.

        Maelstrom has no status message, so the leader comes from the traffic the
        network saw (`MaelstromNetwork.inferred_leader`); a serving node that cannot
        name one names itself, so the runner's wait for a healthy cluster still works
        with leaderless protocols."""
        rec = self._node(node)
        if self.network is None or rec.pid is None or self.network.link(node) is None:
            return Probe(node=node, reachable=False)
        reply, why = self.network.rpc(
            INIT_CLIENT, node, {"type": "read", "key": PROBE_KEY}, min(timeout, 1.0)
        )
        serving = reply is not None and (
            reply.get("type") == "read_ok"
            or (reply.get("type") == "error" and reply.get("code") == 20)
        )
        leader = self.network.inferred_leader()
        raw = {
            "id": node,
            "pid": rec.pid,
            "serving": serving,
            "leader_from": "traffic" if leader else None,
        }
        if leader is None and serving:
            leader, raw["leader_from"] = node, "serving"
        role = (
            None
            if leader is None or raw["leader_from"] != "traffic"
            else ("leader" if leader == node else "follower")
        )
        return Probe(node=node, reachable=True, role=role, leader=leader, raw=raw)

    def client(self, node: str) -> MaelstromClient:
        self._node(node)
        assert self.network is not None, "setup first"
        return MaelstromClient(self.network, node, f"c{next(self._client_ids)}")

    def block_peers(self, node: str, peers: list[str]) -> None:
        """Drop every message between `node` and `peers`, both ways ([] heals)."""
        self._node(node)
        assert self.network is not None, "setup first"
        self.network.block_peers(node, list(peers))

    def log_files(self, node: str) -> dict[str, str]:
        """The node log (binary stderr + shim lines) and events.jsonl if the binary wrote one."""
        rec = self._node(node)
        files = {"node.log": rec.spec.log_path}
        events = posixpath.join(rec.spec.data_dir, "events.jsonl")
        found = rec.spec.host.run(["test", "-f", events], check=False)
        if found.exit_code == 0:
            files["events.jsonl"] = events
        return files
