"""Time to detection: when, in test time, the evidence of each checker's violations began.

results.json carries it as the top-level key `detection` (the interface agreed with the
online checker, harness/watcher.py):

    {"earliest_s": 12.3 | null, "checker": "raft-safety" | null,
     "by_checker": {"raft-safety": 12.3, "linearizability": 20.1},
     "event_clock": "monotonic" | "wall" | null}

A checker's figure is the test time, in seconds since the main phase's first client op was
invoked (0; anything earlier counts as 0), of the earliest op or node event its violations
name: op ids (`op`, `ops`, `read`, `write`), a linearizability counterexample's blocked
ops, node events cited as `file:line` (`events`), or plain history `time_ns`. A checker
that failed without naming any is left out of `by_checker`.

`complete_by_checker` (an addition to the agreed keys) is the other reading: per checker,
the earliest moment at which one of its violations had *all* its named ops and events
(the minimum over violations of the latest time each names) - when a checker could have
concluded. A vote given at 0.5 s and forgotten by a restart at 25 s is 0.5 in
`by_checker` and 25 in `complete_by_checker`.

Node events are placed by their `mono` stamp (CLOCK_MONOTONIC, which the clock nemesis
does not move: libfaketime runs with FAKETIME_DONT_FAKE_MONOTONIC=1) against the history's
monotonic origin in clock.json; that is exact for the local and netns cluster kinds, whose
nodes share the controller's kernel clock. For ssh clusters, old event files without
`mono`, or runs recorded before clock.json had `t0_mono_ns`, the events' wall clock `t` is
used against `t0_wall_ns` instead, and `event_clock` says "wall": such a figure is off by
the hosts' clock offsets, and by any skew a clock fault applied.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from checkers.history import HistoryError, Op, pair_history

CLOCK_FILE = "clock.json"
SHARED_CLOCK_KINDS = frozenset(("local", "netns"))
_OP_KEYS = ("op", "ops", "read", "write", "op_ids")


@dataclass(frozen=True)
class ClockAnchor:
    """The history's origin on the controller's clocks, and whether node monotonic stamps
    share the controller's kernel clock (local and netns clusters)."""

    t0_wall_ns: int | None = None
    t0_mono_ns: int | None = None
    shared_monotonic: bool = False

    def event_ns(self, event: dict[str, Any]) -> tuple[int | None, str | None]:
        """(history ns, clock used) of one node event, or (None, None)."""
        mono, wall = event.get("mono"), event.get("t")
        if self.shared_monotonic and self.t0_mono_ns is not None and _is_int(mono):
            return mono - self.t0_mono_ns, "monotonic"
        if self.t0_wall_ns is not None and _is_int(wall) and wall > 0:
            return wall - self.t0_wall_ns, "wall"
        return None, None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def read_anchor(store: Path) -> ClockAnchor:
    """The anchor of a store directory (missing pieces stay None)."""
    try:
        clock = json.loads((store / CLOCK_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        clock = {}
    if not isinstance(clock, dict):
        clock = {}
    wall, mono = clock.get("t0_wall_ns"), clock.get("t0_mono_ns")
    return ClockAnchor(
        t0_wall_ns=wall if _is_int(wall) else None,
        t0_mono_ns=mono if _is_int(mono) else None,
        shared_monotonic=_cluster_kind(store) in SHARED_CLOCK_KINDS,
    )


def _cluster_kind(store: Path) -> str | None:
    """`cluster:` from the store's test.yaml, read line by line (no YAML dependency: it
    is one top-level scalar the runner writes)."""
    try:
        text = (store / "test.yaml").read_text(encoding="utf-8")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("cluster:"):
            return line.split(":", 1)[1].strip().strip("'\"") or None
    return None


class _EventTimes:
    """Looks up cited `file:line` node events, reading each file once."""

    def __init__(self, anchor: ClockAnchor, store: Path | None) -> None:
        self.anchor = anchor
        self.store = store
        self.clocks: set[str] = set()

    def times(self, citations: Iterable[str]) -> list[int]:
        wanted: dict[str, set[int]] = defaultdict(set)
        for where in citations:
            path, sep, line = str(where).rpartition(":")
            if sep and line.isdigit():  # dumps are cited as path#index=N: no time
                wanted[path].add(int(line))
        out: list[int] = []
        for path, lines in wanted.items():
            for event in self._read(path, lines):
                ns, clock = self.anchor.event_ns(event)
                if ns is not None and clock is not None:
                    out.append(ns)
                    self.clocks.add(clock)
        return out

    def _resolve(self, path: str) -> Path | None:
        p = Path(path)
        if p.is_file():
            return p
        if self.store is not None:  # the store was moved: same node dir under nodes/
            moved = self.store / "nodes" / p.parent.name / p.name
            if moved.is_file():
                return moved
        return None

    def _read(self, path: str, lines: set[int]) -> list[dict[str, Any]]:
        found = self._resolve(path)
        if found is None:
            return []
        out = []
        last = max(lines)
        try:
            with open(found, encoding="utf-8", errors="replace") as stream:
                for number, raw in enumerate(stream, start=1):
                    if number in lines:
                        try:
                            obj = json.loads(raw)
                        except ValueError:
                            continue
                        if isinstance(obj, dict):
                            out.append(obj)
                    if number >= last:
                        break
        except OSError:
            return []
        return out


def _op_ids(violation: dict[str, Any]) -> list[int]:
    ids: list[int] = []
    for key in _OP_KEYS:
        value = violation.get(key)
        values = value if isinstance(value, list) else [value]
        ids.extend(v for v in values if _is_int(v))
    return ids


def _violation_times(
    result: dict[str, Any], call_ns: dict[int, int], events: _EventTimes
) -> list[list[int]]:
    """Per violation of one checker, the history ns of every op or event it names."""
    out: list[list[int]] = []
    for v in result.get("violations") or []:
        if not isinstance(v, dict):
            continue
        times = [call_ns[i] for i in _op_ids(v) if i in call_ns]
        if _is_int(v.get("time_ns")):
            times.append(v["time_ns"])
        cited = v.get("events")
        if isinstance(cited, list):
            times.extend(events.times(str(c) for c in cited))
        if times:
            out.append(times)
    example = (result.get("details") or {}).get("counterexample")
    if isinstance(example, dict):
        for op in example.get("blocked") or []:
            if isinstance(op, dict) and _is_int(op.get("start")):
                out.append([op["start"]])
            elif isinstance(op, dict) and _is_int(op.get("id")) and op["id"] in call_ns:
                out.append([call_ns[op["id"]]])
    return out


def compute_detection(
    results: dict[str, Any],
    ops: list[Op],
    *,
    store: str | Path | None = None,
    anchor: ClockAnchor | None = None,
) -> dict[str, Any]:
    """The `detection` block for `results` (a check_history/check_store dict) of the run
    whose history is `ops`; `store` locates clock.json, test.yaml and moved event files."""
    store_path = Path(store) if store is not None else None
    if anchor is None:
        anchor = read_anchor(store_path) if store_path is not None else ClockAnchor()
    try:
        paired = pair_history(ops).ops
    except HistoryError:
        paired = []
    call_ns = {op.id: op.call_time for op in paired}
    invokes = [op.time for op in ops if op.is_client and op.type == "invoke"]
    origin = min(invokes) if invokes else 0
    events = _EventTimes(anchor, store_path)
    by_checker: dict[str, float] = {}
    complete: dict[str, float] = {}
    for name in results.get("checkers") or []:
        result = results.get(name)
        if not isinstance(result, dict) or result.get("valid") is not False:
            continue
        per_violation = _violation_times(result, call_ns, events)
        if per_violation:
            first = min(min(times) for times in per_violation)
            whole = min(max(times) for times in per_violation)
            by_checker[name] = round(max(0, first - origin) / 1e9, 3)
            complete[name] = round(max(0, whole - origin) / 1e9, 3)
    checker = min(by_checker, key=lambda n: (by_checker[n], n)) if by_checker else None
    clock = None
    if events.clocks:
        clock = "wall" if "wall" in events.clocks else "monotonic"
    return {
        "earliest_s": by_checker[checker] if checker is not None else None,
        "checker": checker,
        "by_checker": by_checker,
        "event_clock": clock,
        "complete_by_checker": complete,
    }
