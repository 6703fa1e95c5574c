"""The history recorder: one thread-safe writer of history.jsonl.

Why its own module: every worker and the nemesis append through it, so it is the one
place that assigns the global op index and the test clock (monotonic nanoseconds since
the test began), flushes each line as it happens (checkers.history.write_op), and keeps
the live counters the progress display reads. After ``close()`` late writes from a
straggling worker are dropped rather than corrupting the file.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checkers.history import NEMESIS, Op, write_op

# Next to history.jsonl: the wall clock (time.time_ns) at history time 0. Node events are
# stamped with their wall clock; this anchor puts them on the history's axis (the
# report's Raft timeline).
CLOCK_FILE = "clock.json"


def read_t0_wall_ns(run_dir: Path) -> int | None:
    """The wall-clock anchor of a run directory, or None (older runs, imported files)."""
    try:
        value = json.loads((run_dir / CLOCK_FILE).read_text(encoding="utf-8"))["t0_wall_ns"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass
class Counters:
    """Live totals for the progress display and the final summary."""

    invoked: int = 0
    ok: int = 0
    fail: int = 0
    info: int = 0
    nemesis: int = 0
    active_faults: dict[str, Any] = field(default_factory=dict)

    @property
    def completed(self) -> int:
        return self.ok + self.fail + self.info


class Recorder:
    """Appends ops to ``path`` with a global index and a monotonic ns clock."""

    def __init__(self, path: Path, t0_ns: int | None = None):
        self.path = path
        self.t0_ns = time.monotonic_ns() if t0_ns is None else t0_ns
        self.t0_wall_ns = time.time_ns() - (time.monotonic_ns() - self.t0_ns)
        path.with_name(CLOCK_FILE).write_text(
            # t0_mono_ns: node events' "mono" stamps share this kernel clock on local and
            # netns clusters (checkers/detection.py), also when a clock fault skews wall time
            json.dumps({"t0_wall_ns": self.t0_wall_ns, "t0_mono_ns": self.t0_ns}) + "\n",
            encoding="utf-8",
        )
        self._stream = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self._lock = threading.Lock()
        self._index = 0
        self.counters = Counters()
        self.closed = False

    def now_ns(self) -> int:
        return time.monotonic_ns() - self.t0_ns

    def now_s(self) -> float:
        return (time.monotonic_ns() - self.t0_ns) / 1e9

    def record(
        self,
        type: str,
        f: str,
        process: int | str,
        value: Any = None,
        key: Any = None,
        *,
        error: Any = None,
        node: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Op | None:
        """Write one op now; returns it (None once the recorder is closed)."""
        with self._lock:
            if self.closed:
                return None
            op = Op(
                type=type,
                f=f,
                process=process,
                value=value,
                key=key,
                time=time.monotonic_ns() - self.t0_ns,
                index=self._index,
                error=error,
                node=node,
                extra=extra or {},
            )
            self._index += 1
            write_op(self._stream, op)
            self._count(op)
            return op

    def _count(self, op: Op) -> None:
        counters = self.counters
        if op.process == NEMESIS:
            if op.type != "invoke":
                counters.nemesis += 1
                self._track_fault(op)
            return
        if op.type == "invoke":
            counters.invoked += 1
        elif op.type == "ok":
            counters.ok += 1
        elif op.type == "fail":
            counters.fail += 1
        else:
            counters.info += 1

    def _track_fault(self, op: Op) -> None:
        """start-X opens fault X, stop-X closes it (for the progress line)."""
        faults = self.counters.active_faults
        if op.f.startswith("start-"):
            faults[op.f[len("start-") :]] = op.value
        elif op.f.startswith("stop-"):
            faults.pop(op.f[len("stop-") :], None)
        elif op.f in ("heal", "heal-all"):
            faults.clear()

    def close(self) -> None:
        with self._lock:
            if not self.closed:
                self.closed = True
                self._stream.close()
