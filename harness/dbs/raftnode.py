"""RaftnodeDB: deploys and controls raftnode processes on any kind of Host.

Nodes are started with the command line of docs/interfaces.md §1. On `local`/`netns`
hosts the code is the controller's own checkout (PYTHONPATH points at it); on `ssh`
hosts `setup` uploads the raftnode package as a tarball by SFTP and unpacks it under
the host's workdir. `start` waits until the node's client port answers, so a node that
cannot start (port in use, corrupt data dir, missing python) fails right there with
its last log line, naming host and command.

Optional capabilities (harness.core.protocols, docs/interfaces.md §6): `block_peers`
(local partitions through POST /admin/partition), `shape_peers` (message chaos through
POST /admin/network, re-applied on every start), `delay_disk` (slow-disk injection
through POST /admin/disk, likewise re-applied), `clock_file` (libfaketime offset
file), `wal_path`, `pid`, `check_bugs` (raftnode's planted bugs).

Every `setup` (one per test) draws a fresh random cluster token and writes it on each host
in a file created with mode 0600 (`--cluster-token-file`), so only this test's nodes can
talk on its peer ports (docs/raftnode.md, "Peer transport").
"""

from __future__ import annotations

import io
import posixpath
import secrets
import signal
import tarfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import raftnode
from harness.core.faketime import faketime_env
from harness.core.protocols import HarnessError, Host, HostError, NodeSpec, Probe
from harness.dbs.raftnode_client import RaftnodeClient, get_json
from raftnode.bugs import BugFlags

TIMING_FLAGS = {
    "tick_ms": "--tick-ms",
    "election_ms": "--election-ms",
    "heartbeat_ms": "--heartbeat-ms",
    "snapshot_every": "--snapshot-every",
    "request_timeout_ms": "--request-timeout-ms",
    "log_level": "--log-level",
}
PACKAGE_DIR = Path(raftnode.__file__).resolve().parent


def _write_secret(host: Host, path: str, data: bytes) -> None:
    """Write `data` to `path` on `host` as a file created 0600 (umask 077, then an atomic
    rename), never world-readable even for a moment; the bytes travel on stdin, not argv."""
    script = 'umask 077 && cat > "$1.tmp" && mv -f "$1.tmp" "$1"'
    host.run(["sh", "-c", script, "sh", path], input=data)


def package_tarball() -> bytes:
    """The raftnode package (sources only) as a .tar.gz, for upload to ssh hosts."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(PACKAGE_DIR.rglob("*.py")):
            if "__pycache__" not in path.parts:
                tar.add(path, arcname=str(Path("raftnode") / path.relative_to(PACKAGE_DIR)))
    return buffer.getvalue()


@dataclass
class _Node:
    spec: NodeSpec
    python: str
    code_dir: str
    pid: int | None = None

    @property
    def node_dir(self) -> str:
        return str(self.spec.extra.get("node_dir") or posixpath.dirname(self.spec.data_dir))

    @property
    def pid_path(self) -> str:
        return posixpath.join(self.node_dir, "raftnode.pid")

    @property
    def clock_path(self) -> str:
        return posixpath.join(self.node_dir, "faketime.rc")

    @property
    def dump_path(self) -> str:
        return posixpath.join(self.node_dir, "dump.json")

    @property
    def token_path(self) -> str:
        return posixpath.join(self.node_dir, "cluster.token")


class RaftnodeDB:
    """The DB protocol for raftnode; one instance manages every node of a cluster."""

    name = "raftnode"

    def __init__(self, start_timeout: float = 30.0) -> None:
        self.start_timeout = start_timeout
        self._nodes: dict[str, _Node] = {}
        self._options: dict[str, Any] = {}
        # admin path -> node -> settings in force, re-applied when the node starts again
        self._sticky: dict[str, dict[str, dict[str, Any]]] = {}

    # -- helpers --------------------------------------------------------------------
    def _node(self, node: str) -> _Node:
        try:
            return self._nodes[node]
        except KeyError:
            raise HarnessError(
                f"raftnode: unknown node {node!r} (known: {', '.join(self._nodes)})"
            ) from None

    def _peers_arg(self) -> str:
        return ",".join(f"{n}={rec.spec.peer_address}" for n, rec in self._nodes.items())

    def command(self, node: str) -> list[str]:
        """The argv that starts `node` (docs/interfaces.md §1)."""
        rec = self._node(node)
        bind = "127.0.0.1" if rec.spec.host.kind == "local" else "0.0.0.0"
        argv = [
            rec.python, "-m", "raftnode",
            "--id", node,
            "--peers", self._peers_arg(),
            "--client", f"{bind}:{rec.spec.client_port}",
            "--data-dir", rec.spec.data_dir,
            "--cluster-token-file", rec.token_path,
        ]  # fmt: skip
        for bug in self._options.get("bugs") or ():
            argv += ["--bug", str(bug)]
        if self._options.get("seed") is not None:
            # Reproducible but distinct per node: equal seeds would make every node pick
            # the same election timeouts and split the vote forever.
            index = list(self._nodes).index(node)
            argv += ["--seed", str(int(self._options["seed"]) * 1000 + index)]
        for option, flag in TIMING_FLAGS.items():
            if self._options.get(option) is not None:
                argv += [flag, str(self._options[option])]
        return argv

    def _env(self, rec: _Node) -> dict[str, str]:
        env = {"PYTHONPATH": rec.code_dir, "PYTHONUNBUFFERED": "1"}
        if self._options.get("faketime"):
            env.update(faketime_env(rec.clock_path))
        return env

    # -- lifecycle ------------------------------------------------------------------
    def setup(self, nodes: Sequence[NodeSpec], options: Mapping[str, Any]) -> None:
        """Make node dirs; upload the code to ssh hosts; write this test's cluster token
        (fresh per setup) and the faketime files."""
        self._options = dict(options)
        self._nodes = {}
        self._sticky = {}
        token = secrets.token_hex(32).encode() + b"\n"
        uploaded: dict[int, str] = {}
        for spec in nodes:
            host = spec.host
            python = str(getattr(host, "python", None) or "python3")
            if host.kind == "ssh":
                key = id(host)
                if key not in uploaded:
                    uploaded[key] = self._upload_code(spec)
                code_dir = uploaded[key]
            else:
                code_dir = str(PACKAGE_DIR.parent)
            rec = _Node(spec=spec, python=python, code_dir=code_dir)
            host.run(["mkdir", "-p", spec.data_dir, rec.node_dir, posixpath.dirname(spec.log_path)])
            _write_secret(host, rec.token_path, token)
            if self._options.get("faketime"):
                host.write_file(rec.clock_path, b"+0\n")
            self._nodes[spec.name] = rec

    def _upload_code(self, spec: NodeSpec) -> str:
        host = spec.host
        workdir = str(getattr(host, "workdir", None) or posixpath.dirname(spec.data_dir))
        code_dir = posixpath.join(workdir, "raftnode-code")
        tarball = posixpath.join(workdir, "raftnode.tar.gz")
        host.run(["rm", "-rf", code_dir])
        host.run(["mkdir", "-p", code_dir])
        host.write_file(tarball, package_tarball())
        host.run(["tar", "-xzf", tarball, "-C", code_dir])
        python = str(getattr(host, "python", None) or "python3")
        check = host.run(
            [python, "-c", "import sys; print(sys.version_info >= (3, 11))"], check=False
        )
        if check.exit_code != 0 or check.stdout.strip() != "True":
            raise HostError(
                host.name,
                f"{python} -c <version check>",
                "raftnode needs Python >= 3.11 on the host (hosts file field: python)",
            )
        return code_dir

    def start(self, node: str) -> None:
        """Start `node` (no-op if running) and wait until it answers GET /status."""
        rec = self._node(node)
        host = rec.spec.host
        if rec.pid is not None and host.is_alive(rec.pid):
            return
        argv = self.command(node)
        rec.pid = host.start_daemon(
            argv,
            log_path=rec.spec.log_path,
            pid_path=rec.pid_path,
            env=self._env(rec),
            cwd=rec.node_dir,
        )
        self._wait_ready(rec, argv)
        for path, by_node in self._sticky.items():  # a restarted node keeps its faults
            if by_node.get(node):
                self._post_admin(rec, path, by_node[node])

    def _wait_ready(self, rec: _Node, argv: list[str]) -> None:
        host, command = rec.spec.host, " ".join(argv)
        deadline = time.monotonic() + self.start_timeout
        while True:
            # Ready = *this* node answers /status (a bare TCP connect would also succeed
            # against some other process already holding the port).
            try:
                status, body = get_json(host.address, rec.spec.client_port, "/status", 2.0)
                if status == 200 and isinstance(body, dict) and body.get("id") == rec.spec.name:
                    return
            except OSError:
                pass
            assert rec.pid is not None
            if not host.is_alive(rec.pid):
                rec.pid = None
                raise HostError(host.name, command, f"exited during start: {self._log_tail(rec)}")
            if time.monotonic() > deadline:
                self.kill(rec.spec.name)
                raise HostError(
                    host.name, command,
                    f"client port {rec.spec.client_port}: no /status from {rec.spec.name} after {self.start_timeout:g}s: {self._log_tail(rec)}",
                )  # fmt: skip
            time.sleep(0.05)

    def _log_tail(self, rec: _Node) -> str:
        try:
            text = rec.spec.host.read_file(rec.spec.log_path).decode(errors="replace")
        except HostError:
            return "(no log)"
        lines = [line for line in text.strip().splitlines() if line.strip()]
        return lines[-1].strip() if lines else "(empty log)"

    def kill(self, node: str) -> None:
        rec = self._node(node)
        if rec.pid is None:
            return
        host, pid = rec.spec.host, rec.pid
        host.signal(pid, signal.SIGKILL)
        deadline = time.monotonic() + 15.0
        while host.is_alive(pid):
            if time.monotonic() > deadline:
                raise HostError(host.name, f"kill -9 {pid}", "process still alive after 15s")
            time.sleep(0.02)
        rec.pid = None

    def pause(self, node: str) -> None:
        rec = self._node(node)
        if rec.pid is not None:
            rec.spec.host.signal(rec.pid, signal.SIGSTOP)

    def resume(self, node: str) -> None:
        rec = self._node(node)
        if rec.pid is not None:
            rec.spec.host.signal(rec.pid, signal.SIGCONT)

    def is_running(self, node: str) -> bool:
        rec = self._node(node)
        return rec.pid is not None and rec.spec.host.is_alive(rec.pid)

    def pid(self, node: str) -> int | None:
        return self._node(node).pid

    def probe(self, node: str, timeout: float = 1.0) -> Probe:
        rec = self._node(node)
        try:
            status, body = get_json(rec.spec.host.address, rec.spec.client_port, "/status", timeout)
        except OSError:
            return Probe(node=node, reachable=False)
        if status != 200 or not isinstance(body, dict):
            return Probe(node=node, reachable=False, raw=body if isinstance(body, dict) else {})
        return Probe(
            node=node,
            reachable=True,
            role=body.get("role"),
            term=body.get("term"),
            leader=body.get("leader"),
            commit_index=body.get("commit_index"),
            applied_index=body.get("applied_index"),
            clock_ns=body.get("wall_clock_ns"),
            raw=body,
        )

    def teardown(self) -> None:
        errors: list[str] = []
        for node in self._nodes:
            try:
                self.kill(node)
            except HarnessError as exc:
                errors.append(str(exc))
        if errors:
            raise HarnessError("raftnode teardown: " + "; ".join(errors))

    # -- files and clients ----------------------------------------------------------
    def log_files(self, node: str) -> dict[str, str]:
        """node.log, events.jsonl and (best effort) `raftnode dump --json` of the data dir."""
        rec = self._node(node)
        files = {
            "node.log": rec.spec.log_path,
            "events.jsonl": posixpath.join(rec.spec.data_dir, "events.jsonl"),
        }
        try:
            dump = rec.spec.host.run(
                [rec.python, "-m", "raftnode", "dump", rec.spec.data_dir, "--json"],
                env={"PYTHONPATH": rec.code_dir}, timeout=60.0, check=True,
            )  # fmt: skip
            rec.spec.host.write_file(rec.dump_path, dump.stdout.encode())
            files["dump.json"] = rec.dump_path
        except HarnessError:
            pass
        return files

    def client(self, node: str) -> RaftnodeClient:
        """A client bound to `node` that fails over to the others (RaftnodeClient)."""
        rec = self._node(node)
        others = [
            (other.spec.host.address, other.spec.client_port)
            for name, other in self._nodes.items()
            if name != node
        ]
        return RaftnodeClient(
            rec.spec.host.address, rec.spec.client_port, node=node, fallbacks=others
        )

    def data_dir(self, node: str) -> str:
        return self._node(node).spec.data_dir

    def check_bugs(self, names: Sequence[str]) -> None:
        """Planted-bug names are raftnode's own (raftnode.bugs): one check, theirs."""
        BugFlags.parse(list(names))

    def wal_path(self, node: str) -> str:
        return posixpath.join(self._node(node).spec.data_dir, "wal.log")

    def clock_file(self, node: str) -> str | None:
        rec = self._node(node)
        return rec.clock_path if self._options.get("faketime") else None

    def block_peers(self, node: str, peers: list[str]) -> None:
        """Drop all peer traffic between `node` and `peers` (in that node; [] heals)."""
        rec = self._node(node)
        try:
            status, body = get_json(
                rec.spec.host.address,
                rec.spec.client_port,
                "/admin/partition",
                5.0,
                {"drop": list(peers)},
            )
        except OSError as exc:
            raise HostError(rec.spec.host.name, f"POST /admin/partition {peers}", str(exc)) from exc
        if status != 200:
            raise HostError(
                rec.spec.host.name, f"POST /admin/partition {peers}", f"HTTP {status}: {body}"
            )

    def shape_peers(self, node: str, settings: Mapping[str, Any] | None) -> None:
        """Message chaos on `node`'s outgoing peer messages (None or {}: off)."""
        self._set_sticky(node, "/admin/network", settings)

    def delay_disk(self, node: str, settings: Mapping[str, Any] | None) -> None:
        """Slow-disk injection on `node` (``delay_ms``, ``jitter_ms``; None or {}: off)."""
        self._set_sticky(node, "/admin/disk", settings)

    def _set_sticky(self, node: str, path: str, settings: Mapping[str, Any] | None) -> None:
        """POST `settings` to `path` now if the node runs, and remember them for its next
        start: a node that is down now gets them then."""
        rec = self._node(node)
        wanted = dict(settings or {})
        self._sticky.setdefault(path, {})[node] = wanted
        if self.is_running(node):
            self._post_admin(rec, path, wanted)

    def _post_admin(self, rec: _Node, path: str, settings: dict[str, Any]) -> None:
        what = f"POST {path} {settings}"
        try:
            status, body = get_json(
                rec.spec.host.address, rec.spec.client_port, path, 5.0, settings
            )
        except OSError as exc:
            raise HostError(rec.spec.host.name, what, str(exc)) from exc
        if status != 200:
            raise HostError(rec.spec.host.name, what, f"HTTP {status}: {body}")
