"""Per-run state of `local` and `netns` clusters, so nothing outlives a dead controller.

A `local` cluster has no namespace to delete: its nodes are plain processes, its node
directories temporary ones. So every open local or netns cluster writes a run record
(`<state dir>/run-<owner pid>-<random>.run`, JSON) *before* it starts anything, and
keeps it current: the controller (pid and start time), the run directory in the store,
the netns lab it created, the temporary node directories, each node's files, and every
daemon by pid and start time (so a recycled pid is never killed by mistake).

`Cluster.close()` kills whatever is still recorded (a safety net behind `DB.teardown`)
and removes the record. After a SIGKILL of the controller, `reap_run` does what close
would have: stopped daemons get SIGCONT, then SIGKILL; the lab is destroyed; the nodes'
logs are copied into the run's `nodes/<node>/`; the temporary directories and the
record are removed. `splitbrain cleanup` runs it on demand, and every `splitbrain test`
runs it first on the runs whose controller is gone (`reap_dead_runs`).

The state dir is the labs' (`/run/splitbrain/labs`, `$SPLITBRAIN_STATE_DIR`) when it is
writable, else a per-user directory in the temp dir: the local kind works for everyone.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.hosts import procs
from harness.hosts.lab_state import PidRecord, state_dir

RUN_SUFFIX = ".run"
LEGACY_GLOB = "local-*.session"  # records of an older version (daemons only)
# Node files worth keeping: logs and event files beside the node's log; from the data dir
# only event files (never the WAL or snapshots, which can be large).
NODE_DIR_SUFFIXES = (".log", ".jsonl", ".json")
DATA_DIR_SUFFIXES = (".jsonl",)


def run_state_dir() -> Path:
    """Where run records live: the labs' state dir if this process may write there, else
    `<tmp>/splitbrain-state-<uid>`."""
    preferred = state_dir()
    try:
        preferred.mkdir(parents=True, exist_ok=True)
        if os.access(preferred, os.W_OK):
            return preferred
    except OSError:
        pass
    fallback = Path(tempfile.gettempdir()) / f"splitbrain-state-{os.getuid()}"
    fallback.mkdir(mode=0o700, exist_ok=True)
    return fallback


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    with open(directory / ".runs.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass
class NodeFiles:
    """Where one node keeps its files (from the cluster's NodeSpec)."""

    node_dir: str
    data_dir: str
    log_path: str


@dataclass
class RunRecord:
    """Everything one run's cluster consists of on this machine."""

    owner_pid: int
    owner_start: int | None
    kind: str
    created: float = 0.0
    run_dir: str | None = None
    lab: str | None = None  # a netns lab this run created (and must remove)
    tmpdirs: list[str] = field(default_factory=list)
    nodes: dict[str, NodeFiles] = field(default_factory=dict)
    pids: list[PidRecord] = field(default_factory=list)
    path: Path | None = field(default=None, compare=False)  # the record file; not saved

    @property
    def run_id(self) -> str | None:
        """`<test name>/<timestamp>`: the last two parts of the run directory."""
        if not self.run_dir:
            return None
        parts = Path(self.run_dir).parts
        return "/".join(parts[-2:])

    @property
    def controller_alive(self) -> bool:
        return procs.same_process(self.owner_pid, self.owner_start)

    def to_json(self) -> str:
        data = asdict(self)
        data.pop("path")
        return json.dumps(data, indent=2, sort_keys=True)

    @classmethod
    def from_file(cls, path: Path) -> RunRecord:
        """Read a record (also an older `local-*.session`); ValueError if unusable."""
        try:
            raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                owner_pid=int(raw["owner_pid"]),
                owner_start=raw.get("owner_start"),
                kind=str(raw.get("kind", "local")),
                created=float(raw.get("created", 0.0)),
                run_dir=raw.get("run_dir"),
                lab=raw.get("lab"),
                tmpdirs=[str(p) for p in raw.get("tmpdirs", [])],
                nodes={str(n): NodeFiles(**f) for n, f in raw.get("nodes", {}).items()},
                pids=[
                    PidRecord(pid=int(p["pid"]), start=p.get("start"), node=str(p.get("node")))
                    for p in raw.get("pids", [])
                ],
                path=path,
            )
        except (OSError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"run record {path} is unreadable ({exc})") from None


class RunSession:
    """The live record of one open cluster, updated as it grows. Without a usable state
    dir nothing is recorded (and nothing fails)."""

    def __init__(self, kind: str, *, run_dir: str | Path | None = None) -> None:
        self.record = RunRecord(
            owner_pid=os.getpid(),
            owner_start=procs.start_time(os.getpid()),
            kind=kind,
            created=time.time(),
            run_dir=str(Path(run_dir).resolve()) if run_dir is not None else None,
        )
        try:
            directory = run_state_dir()
            self.record.path = directory / f"run-{os.getpid()}-{secrets.token_hex(3)}{RUN_SUFFIX}"
            self._save()
        except OSError:
            self.record.path = None

    @property
    def path(self) -> Path | None:
        return self.record.path

    def _save(self) -> None:
        path = self.record.path
        if path is None:
            return
        with _locked(path.parent):
            tmp = path.with_suffix(".tmp")
            tmp.write_text(self.record.to_json(), encoding="utf-8")
            os.replace(tmp, path)

    def _update(self) -> None:
        with contextlib.suppress(OSError):
            self._save()

    def add_pid(self, pid: int, node: str) -> None:
        self.record.pids.append(PidRecord(pid=pid, start=procs.start_time(pid), node=node))
        self._update()

    def add_node(self, node: str, files: NodeFiles) -> None:
        self.record.nodes[node] = files
        self._update()

    def add_tmpdir(self, path: str) -> None:
        self.record.tmpdirs.append(path)
        self._update()

    def set_lab(self, lab: str) -> None:
        self.record.lab = lab
        self._update()

    def kill_daemons(self) -> list[int]:
        """Kill every recorded daemon still running (before its lab or dirs go)."""
        return kill_recorded(self.record)

    def close(self) -> list[int]:
        """Kill every recorded daemon still running; remove the record (the cluster
        removes its own directories and lab first)."""
        killed = kill_recorded(self.record)
        if self.record.path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.record.path.unlink()
            self.record.path = None
        return killed


def kill_recorded(record: RunRecord) -> list[int]:
    """SIGKILL each recorded daemon that is still the recorded process (a stopped one
    gets SIGCONT first, so that nothing is left stopped); returns the pids killed."""
    killed = []
    for entry in record.pids:
        if procs.same_process(entry.pid, entry.start):
            procs.kill_and_wait(entry.pid, entry.start)
            killed.append(entry.pid)
    return killed


@dataclass
class Reaped:
    """What reap_run did, for one line of output and the run's controller.log."""

    record: RunRecord
    killed: list[int] = field(default_factory=list)
    collected: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def describe(self) -> str:
        parts = [f"killed pids {self.killed}" if self.killed else "no process left"]
        if self.collected:
            parts.append(f"collected {len(self.collected)} node file(s) into nodes/")
        if self.removed:
            parts.append("removed " + ", ".join(self.removed))
        parts += [f"error: {e}" for e in self.errors]
        name = self.record.run_id or (self.record.path.name if self.record.path else "?")
        return f"run {name} (controller pid {self.record.owner_pid}): " + "; ".join(parts)


def _collect(record: RunRecord, reaped: Reaped) -> None:
    """Copy each node's log and event files into `<run dir>/nodes/<node>/`."""
    if not record.run_dir or not Path(record.run_dir).is_dir():
        return
    for node, files in record.nodes.items():
        target = Path(record.run_dir) / "nodes" / node
        sources = [Path(files.log_path)]
        for directory, suffixes in (
            (Path(files.node_dir), NODE_DIR_SUFFIXES),
            (Path(files.data_dir), DATA_DIR_SUFFIXES),
        ):
            with contextlib.suppress(OSError):
                sources += sorted(p for p in directory.iterdir() if p.suffix in suffixes)
        for source in dict.fromkeys(sources):
            if not source.is_file() or source.name.endswith(".pid"):
                continue
            try:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target / source.name)
                reaped.collected.append(str(target / source.name))
            except OSError as exc:
                reaped.errors.append(f"collect {source}: {exc.strerror or exc}")


def _note_in_controller_log(record: RunRecord, line: str) -> None:
    if not record.run_dir or not Path(record.run_dir).is_dir():
        return
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    with (
        contextlib.suppress(OSError),
        open(Path(record.run_dir) / "controller.log", "a", encoding="utf-8") as log,
    ):
        log.write(f"{stamp} WARNING splitbrain: {line}\n")


def reap_run(record: RunRecord) -> Reaped:
    """Remove what a run left behind: its daemons, its lab, its temporary directories
    and its record, after copying its nodes' logs into the store. Idempotent."""
    reaped = Reaped(record)
    reaped.killed = kill_recorded(record)
    if record.lab:
        from harness.hosts import netns  # only netns runs need iproute2

        try:
            removed = netns.destroy_lab(record.lab)
            reaped.removed.append(
                f"lab {record.lab}" + (f" ({len(removed)} parts)" if removed else "")
            )
        except Exception as exc:  # noqa: BLE001 - reported; the rest is still cleaned
            reaped.errors.append(f"lab {record.lab}: {exc}")
    _collect(record, reaped)
    for path in record.tmpdirs:
        if Path(path).exists():
            shutil.rmtree(path, ignore_errors=True)
            reaped.removed.append(path)
    if record.path is not None and not reaped.errors:
        with contextlib.suppress(FileNotFoundError):
            record.path.unlink()
    _note_in_controller_log(record, f"cleanup by pid {os.getpid()}: {reaped.describe()}")
    return reaped


def all_runs() -> tuple[list[RunRecord], list[str]]:
    """Every run record on this machine (also older session files), and the problems
    with records that could not be read."""
    directory = run_state_dir()
    records, problems = [], []
    paths = sorted(directory.glob(f"run-*{RUN_SUFFIX}")) + sorted(directory.glob(LEGACY_GLOB))
    for path in paths:
        try:
            records.append(RunRecord.from_file(path))
        except ValueError as exc:
            problems.append(str(exc))
    return records, problems


def reap_dead_runs(log: logging.Logger | None = None) -> list[Reaped]:
    """reap_run for every run whose controller is gone (live ones are left alone); with
    `log`, each one is logged, and a failure is logged instead of raised (a test that
    starts must not fail because an earlier one left a mess)."""
    reaped = []
    try:
        records, problems = all_runs()
    except OSError as exc:
        records, problems = [], [f"run records unreadable: {exc}"]
    for record in records:
        if record.controller_alive:
            continue
        try:
            reaped.append(reap_run(record))
        except Exception as exc:  # noqa: BLE001 - see the docstring
            if log is None:
                raise
            problems.append(f"cleanup of {record.path}: {type(exc).__name__}: {exc}")
    if log is not None:
        for done in reaped:
            log.warning("reaped a dead controller's run: %s", done.describe())
        for problem in problems:
            log.warning("%s", problem)
    return reaped


def reap_orphans() -> dict[str, list[int]]:
    """Older interface (`lab down --all`): {record file name: pids killed}."""
    return {(r.record.path.name if r.record.path else "?"): r.killed for r in reap_dead_runs()}
