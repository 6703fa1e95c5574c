"""The online watcher behind ``--stop-on-violation``: check the test while it runs.

Why: a planted bug that shows in the first seconds of a 60 s test need not cost the
other 50 (a campaign of 100 runs spends most of its time there). During the main phase
a thread wakes about once a second and judges what has been recorded so far:

- the ops: history.jsonl is read on from where the last look stopped (it is flushed
  line by line) and fed to checkers.online.OnlineOpsChecker (lost, stale, duplicated,
  out-of-bounds reads a prefix already proves);
- the node events: each node's ``events.jsonl`` is copied (whole lines only) through its
  host's file access (``Host.read_file``: plain files for local and netns hosts, SFTP for
  ssh ones) into a scratch directory, and the Raft safety checker's ordinary batch check
  (checkers.raft_safety.check_evidence) runs over it, exactly as it will at the end. For
  a DB whose events the status poller writes (etcd), they are already in the run's
  ``nodes/``; a DB with neither (the null DB) gets the op checks only.

At the first violation the watcher calls ``on_violation`` once and stops; the runner
then stops the workload and goes on as after a normal main phase (heal, recovery, final
reads, the full check), so the verdict always comes from the full checkers. A look that
takes long (a long run's event files) pushes the next one back (four times its duration),
so the watcher never takes more than about a fifth of a core from the cluster under test;
a look that fails (an unreadable file) is logged once and retried, never fatal.
"""

from __future__ import annotations

import json
import logging
import posixpath
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checkers.events import EVENTS_FILE, load_evidence
from checkers.history import Op
from checkers.online import OnlineOpsChecker
from checkers.raft_safety import check_evidence, evidence_meta
from harness.core.protocols import Host, PolledStatus, SupportsDataDir

log = logging.getLogger("splitbrain")

INTERVAL_S = 1.0
# The next look waits at least this many times as long as the last one took: the
# watcher's share of one core stays under 1 / (1 + BACKOFF).
BACKOFF = 4.0
ONLINE_FILE = "online.json"  # in the run dir: what stopped the test, and when


@dataclass(frozen=True)
class Violation:
    """The first violation the watcher found: which checker, what it says, and the test
    time (seconds since the history began) at which the watcher saw it."""

    checker: str
    message: str
    found_at_s: float
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "checker": self.checker,
            "message": self.message,
            "found_at_s": round(self.found_at_s, 3),
            "details": self.details,
        }


class HistoryTail:
    """Reads history.jsonl on from the last complete line it returned."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def new_ops(self) -> list[Op]:
        try:
            with open(self.path, "rb") as stream:
                stream.seek(self.offset)
                chunk = stream.read()
        except FileNotFoundError:
            return []
        end = chunk.rfind(b"\n")
        if end < 0:
            return []
        self.offset += end + 1
        ops = []
        for raw in chunk[: end + 1].splitlines():
            try:
                ops.append(Op.from_json(json.loads(raw)))
            except (ValueError, KeyError, TypeError):
                continue  # the full check reports a bad line
        return ops


class EventMirror:
    """Each node's events.jsonl, copied through its host into ``root/<node>/`` (whole
    lines only, rewritten only when it grew or changed)."""

    def __init__(self, files: dict[str, tuple[Host, str]], root: Path) -> None:
        self.files = files
        self.root = root
        self.sizes: dict[str, int] = {}
        self.errors: dict[str, str] = {}  # node -> the last read failure (results.json)

    def refresh(self) -> bool:
        """Copy what changed; True if any node's events did. Unreadable files (a node
        that has not written yet) are skipped until the next look."""
        changed = False
        for node, (host, remote) in sorted(self.files.items()):
            try:
                data = host.read_file(remote)
            except Exception as exc:  # noqa: BLE001 - HostError or a dead session: next look
                self.errors[node] = str(exc) or type(exc).__name__
                continue
            self.errors.pop(node, None)
            data = data[: data.rfind(b"\n") + 1]
            if len(data) == self.sizes.get(node):
                continue
            target = self.root / node / EVENTS_FILE
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            self.sizes[node] = len(data)
            changed = True
        return changed


def event_files(ctx: Any) -> dict[str, tuple[Host, str]] | None:
    """Where each node's events.jsonl is, on its host; None if this DB writes none the
    watcher can read during the run."""
    db, cluster = ctx.db, ctx.cluster
    if cluster is None or not isinstance(db, SupportsDataDir):
        return None
    out = {}
    for node in ctx.nodes:
        host = cluster.hosts.get(node)
        if host is not None:
            out[node] = (host, posixpath.join(db.data_dir(node), EVENTS_FILE))
    return out


class Watcher(threading.Thread):
    """The online checks, in a daemon thread until :meth:`halt` or the first violation."""

    def __init__(
        self,
        *,
        history: Path,
        now_s: Callable[[], float],
        on_violation: Callable[[Violation], None],
        workload: str | None = None,
        mirror: EventMirror | None = None,
        events_root: Path | None = None,
        interval_s: float = INTERVAL_S,
        shown_root: Path | None = None,
    ) -> None:
        super().__init__(name="online-watcher", daemon=True)
        self.tail = HistoryTail(history)
        self.ops = OnlineOpsChecker(workload)
        self.now_s = now_s
        self.on_violation = on_violation
        self.mirror = mirror
        self.events_root = events_root if mirror is None else mirror.root
        self.interval_s = interval_s
        # Violations cite event lines; the scratch copies are deleted, the run's nodes/
        # will hold the same lines once collected.
        self.shown_root = shown_root
        self.found: Violation | None = None
        self.looks = 0
        self.busy_s = 0.0
        self._halt = threading.Event()
        self._warned: set[str] = set()

    def halt(self) -> None:
        self._halt.set()

    def run(self) -> None:
        wait = self.interval_s
        while not self._halt.wait(wait):
            started = time.monotonic()
            found = self.look()
            took = time.monotonic() - started
            self.busy_s += took
            if found is not None and not self._halt.is_set():
                self.found = found
                self.on_violation(found)
                return
            wait = max(self.interval_s, BACKOFF * took)

    def look(self) -> Violation | None:
        """One look at everything recorded so far; the first violation, if any."""
        self.looks += 1
        # Copy the events first (cheap): the copies then match the ops just judged.
        changed = self._guarded("events", self._refresh) if self.mirror is not None else True
        found = self._guarded("ops", self._check_ops)
        if found is None and changed:
            found = self._guarded("raft-safety", self._check_events)
        return found

    def _refresh(self) -> bool:
        assert self.mirror is not None
        return self.mirror.refresh()

    def _guarded(self, what: str, check: Callable[[], Any]) -> Any:
        try:
            return check()
        except Exception as exc:  # noqa: BLE001 - the watcher never ends the test by crashing
            if what not in self._warned:
                self._warned.add(what)
                log.warning("online %s check failed (retried each look): %s", what, exc)
            return None

    def _check_ops(self) -> Violation | None:
        found = self.ops.feed_all(self.tail.new_ops())
        if not found:
            return None
        first = found[0]
        return Violation(
            checker=f"online-{first.kind}",
            message=first.message,
            found_at_s=self.now_s(),
            details={k: v for k, v in first.to_json().items() if k != "message"},
        )

    def _check_events(self) -> Violation | None:
        if self.events_root is None or not self.events_root.is_dir():
            return None
        result = check_evidence(load_evidence(self.events_root), *evidence_meta(self.events_root))
        if result.valid is not False or not result.violations:
            return None
        first = json.loads(self._cited(json.dumps(result.violations[0], default=str)))
        return Violation(
            checker="raft-safety",
            message=str(first.get("message", result.summary)),
            found_at_s=self.now_s(),
            details={k: v for k, v in first.items() if k != "message"},
        )

    def _cited(self, text: str) -> str:
        if self.mirror is None or self.shown_root is None:
            return text
        scratch, shown = json.dumps(str(self.mirror.root))[1:-1], json.dumps(str(self.shown_root))
        return text.replace(scratch, shown[1:-1])


@dataclass
class StopOnViolation:
    """What the runner holds for ``--stop-on-violation``: the watcher thread, its
    scratch directory, and the violation that stopped the test (if one did)."""

    watcher: Watcher
    scratch: Path | None
    run_dir: Path
    violation: Violation | None = None

    @property
    def stopped_early_at_s(self) -> float | None:
        return None if self.violation is None else round(self.violation.found_at_s, 3)

    def halt(self) -> None:
        """Stop watching (the main phase is over) and drop the scratch copies."""
        self.watcher.halt()
        if self.watcher.is_alive() and self.watcher is not threading.current_thread():
            self.watcher.join(timeout=30.0)
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None

    def annotate(self, results: dict[str, Any]) -> None:
        """results.json's ``stopped_early_at_s`` and ``online`` entries."""
        results["stopped_early_at_s"] = self.stopped_early_at_s
        results["online"] = {
            "looks": self.watcher.looks,
            "busy_s": round(self.watcher.busy_s, 3),
            "reads_judged": self.watcher.ops.reads_judged,
            "events": self.watcher.events_root is not None,
            "event_bytes": sum(m.sizes.values()) if (m := self.watcher.mirror) else None,
            "event_errors": dict(m.errors) if m else {},
            "violation": None if self.violation is None else self.violation.to_json(),
        }


def start(
    ctx: Any,
    *,
    history: Path,
    run_dir: Path,
    now_s: Callable[[], float],
    stop_workload: threading.Event,
    workload: str | None,
    announce: Callable[[str], None] | None = None,
) -> StopOnViolation:
    """Start watching; the first violation is logged (controller.log), written to
    ``online.json`` in the run dir, announced (the console) and sets ``stop_workload``."""
    scratch: Path | None = None
    mirror: EventMirror | None = None
    events_root: Path | None = None
    files = event_files(ctx)
    if files:
        scratch = Path(tempfile.mkdtemp(prefix="splitbrain-online-"))
        mirror = EventMirror(files, scratch)
    elif isinstance(ctx.db, PolledStatus):
        events_root = run_dir / "nodes"  # the status poller writes them there, as it runs
    else:
        log.info("stop-on-violation: db %s shows no node events during the run; ops only", ctx.db)
    holder: StopOnViolation

    def found(violation: Violation) -> None:
        holder.violation = violation
        line = (
            f"stop-on-violation: {violation.checker} at {violation.found_at_s:.1f} s: "
            f"{violation.message}"
        )
        log.warning("%s", line)
        try:
            (run_dir / ONLINE_FILE).write_text(
                json.dumps(violation.to_json(), indent=2, default=str) + "\n", encoding="utf-8"
            )
        except OSError as exc:
            log.warning("stop-on-violation: cannot write %s: %s", ONLINE_FILE, exc)
        if announce is not None:
            announce(line)
        stop_workload.set()

    watcher = Watcher(
        history=history,
        now_s=now_s,
        on_violation=found,
        workload=workload,
        mirror=mirror,
        events_root=events_root,
        shown_root=run_dir / "nodes",
    )
    holder = StopOnViolation(watcher, scratch, run_dir)
    watcher.start()
    return holder


def to_stderr(line: str) -> None:
    """The console announcement (above the live progress line, which rich redirects)."""
    print(f"splitbrain: {line}", file=sys.stderr, flush=True)
