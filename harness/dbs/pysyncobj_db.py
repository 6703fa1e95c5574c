"""PySyncObjDB: PySyncObj (a Raft library on PyPI) as a splitbrain DB, one release at a time.

Each node is `pysyncobj_server.py` — PySyncObj around raftnode's KV state machine,
serving raftnode's HTTP client API — run by the interpreter of a cached per-version
virtual environment (`pysyncobj_venv`), so ``--db-option version=0.3.12`` against
``version=0.3.17`` regression-tests one release against another. Everything else is
RaftnodeDB's: start waits for ``GET /status`` naming the node, kill/pause/resume signal the
process group, the client is RaftnodeClient, ``probe`` reads role/term/leader.

Cluster kinds: `local` and `netns` share this machine's file system, so the nodes run the
cached environment's python directly; on `ssh` hosts the pure-Python pysyncobj package
and the server are uploaded next to raftnode's code and run by the host's python (3.11+).
Partitions need a network to cut (netns, ssh): PySyncObj has no hook to drop its own
peer traffic, so on `local` the partition nemesis says so.

db options: ``version`` (default 0.3.12), ``reads`` (``log``: every read is a log entry,
linearizable; ``local``: served from the node's own copy, as PySyncObj's getters do —
expected to be stale), ``request_timeout_ms`` (3000), and PySyncObj's own SyncObjConf
fields by name (``raftMinTimeout``, ``logCompactionMinEntries``, … see CONF_TYPES in
the server).
"""

from __future__ import annotations

import io
import posixpath
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.core.protocols import HarnessError, NodeSpec
from harness.dbs.options import opt_choice, opt_int
from harness.dbs.pysyncobj_venv import DEFAULT_VERSION, Venv, check_version, ensure_venv
from harness.dbs.raftnode import RaftnodeDB, _Node

SERVER_FILE = Path(__file__).resolve().parent / "hostside" / "pysyncobj_server.py"
CONF_OPTIONS = (
    "raftMinTimeout", "raftMaxTimeout", "appendEntriesPeriod", "leaderFallbackTimeout",
    "connectionTimeout", "connectionRetryTime", "autoTickPeriod", "logCompactionMinEntries",
    "logCompactionMinTime", "commandsQueueSize", "appendEntriesUseBatch", "commandsWaitLeader",
    "useFork",
)  # fmt: skip


def _version(options: Mapping[str, Any]) -> str:
    return check_version(str(options.get("version") or DEFAULT_VERSION))


def _package_tarball(package_dir: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(package_dir.rglob("*.py")):
            tar.add(path, arcname=str(Path("pysyncobj") / path.relative_to(package_dir)))
    return buffer.getvalue()


class PySyncObjDB(RaftnodeDB):
    """The DB protocol for a PySyncObj cluster of one version."""

    name = "pysyncobj"
    block_peers = None  # no way to cut PySyncObj's peer traffic from inside: netns/ssh only
    check_bugs = None  # raftnode's planted bugs are not this DB's: --bug is refused
    # What the Raft safety checker cannot judge from the events the server writes.
    evidence_limits = {
        prop: "PySyncObj has no hook for log appends; its events are start and role only"
        for prop in ("log-matching", "leader-append-only", "leader-completeness",
                     "state-machine-safety")
    }  # fmt: skip

    def __init__(self, start_timeout: float = 30.0) -> None:
        super().__init__(start_timeout)
        self.venv: Venv | None = None
        self._server: dict[str, str] = {}
        self._extra_path: dict[str, str] = {}

    @classmethod
    def preflight(cls, spec: Any) -> None:
        """Before anything starts: a plausible version; partitions need a network."""
        _version(spec.db_options)
        faults = set(spec.nemesis) | {str(e.f).split("-", 1)[-1] for e in spec.nemesis_schedule}
        if spec.cluster == "local" and "partition" in faults:
            raise HarnessError(
                "db pysyncobj: partition needs --cluster netns or ssh (PySyncObj cannot drop "
                "its own peer traffic, and on local all nodes share 127.0.0.1)"
            )

    def setup(self, nodes: Sequence[NodeSpec], options: Mapping[str, Any]) -> None:
        self.venv = venv = ensure_venv(_version(options))
        opt_choice("pysyncobj", options, "reads", "log", ("log", "local"))
        opt_int("pysyncobj", options, "request_timeout_ms", 3000, minimum=1)
        for spec in nodes:
            spec.host.run(["rm", "-rf", spec.data_dir])  # a fresh test starts from nothing
        super().setup(nodes, options)
        tarball: bytes | None = None
        for spec in nodes:
            rec = self._node(spec.name)
            if spec.host.kind != "ssh":
                rec.python = str(venv.python)
                self._server[spec.name] = str(SERVER_FILE)
                continue
            tarball = tarball or _package_tarball(venv.package_dir)
            workdir = posixpath.dirname(rec.code_dir)
            lib = posixpath.join(workdir, f"pysyncobj-{venv.version}")
            spec.host.run(["rm", "-rf", lib])
            spec.host.run(["mkdir", "-p", lib])
            spec.host.write_file(posixpath.join(lib, "pysyncobj.tar.gz"), tarball)
            spec.host.run(["tar", "-xzf", posixpath.join(lib, "pysyncobj.tar.gz"), "-C", lib])
            server = posixpath.join(workdir, "pysyncobj_server.py")
            spec.host.write_file(server, SERVER_FILE.read_bytes())
            self._server[spec.name] = server
            self._extra_path[spec.name] = lib

    def version(self) -> str | None:
        """The PySyncObj release under test (for the results)."""
        return self.venv.version if self.venv is not None else None

    def command(self, node: str) -> list[str]:
        rec = self._node(node)
        bind = "127.0.0.1" if rec.spec.host.kind == "local" else "0.0.0.0"
        peers = ",".join(f"{n}={r.spec.peer_address}" for n, r in self._nodes.items())
        argv = [
            rec.python, "-P", self._server[node],
            "--id", node, "--peers", peers,
            "--client", f"{bind}:{rec.spec.client_port}",
            "--data-dir", rec.spec.data_dir,
            "--reads", str(self._options.get("reads") or "log"),
            "--request-timeout-ms", str(self._options.get("request_timeout_ms") or 3000),
        ]  # fmt: skip
        for key in CONF_OPTIONS:
            if self._options.get(key) is not None:
                argv += ["--conf", f"{key}={self._options[key]}"]
        return argv

    def _env(self, rec: _Node) -> dict[str, str]:
        env = super()._env(rec)
        extra = self._extra_path.get(rec.spec.name)
        if extra:
            env["PYTHONPATH"] = f"{rec.code_dir}:{extra}"
        return env

    def log_files(self, node: str) -> dict[str, str]:
        rec = self._node(node)
        return {
            "node.log": rec.spec.log_path,
            "events.jsonl": posixpath.join(rec.spec.data_dir, "events.jsonl"),
        }

    def wal_path(self, node: str) -> str:
        return posixpath.join(self._node(node).spec.data_dir, "journal.bin")
