"""Availability per fault: how much of the workload still succeeded while each fault
was active, against the time without any fault.

Why per fault: a Raft cluster should keep serving through a minority fault and stop
(safely) during some others; the table makes "partition cost 40% of ops, kill cost
none" visible at a glance. Ops count for the period their invocation fell in; an op
invoked while two faults overlap counts for both.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

from harness.report.rundata import FaultWindow, RunData


@dataclass
class AvailabilityRow:
    period: str
    seconds: float
    windows: int
    ops: int
    ok: int
    ok_per_s: float
    seconds_without_ok: int  # whole seconds inside the period in which no invoked op succeeded

    @property
    def ok_fraction(self) -> float | None:
        return self.ok / self.ops if self.ops else None


def _merge(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _complement(spans: list[tuple[float, float]], end_s: float) -> list[tuple[float, float]]:
    out, cursor = [], 0.0
    for start, end in spans:
        if start > cursor:
            out.append((cursor, start))
        cursor = max(cursor, end)
    if cursor < end_s:
        out.append((cursor, end_s))
    return out


def _row(
    period: str,
    spans: list[tuple[float, float]],
    windows: int,
    ok_seconds: set[int],
    ops: list[tuple[float, bool]],
) -> AvailabilityRow:
    starts = [s for s, _ in spans]
    inside = []
    for op_start, ok in ops:
        i = bisect.bisect_right(starts, op_start) - 1
        if i >= 0 and op_start < spans[i][1]:
            inside.append(ok)
    seconds = sum(e - s for s, e in spans)
    ok = sum(inside)
    covered = {sec for s, e in spans for sec in range(math.ceil(s), math.floor(e))}
    return AvailabilityRow(
        period,
        seconds,
        windows,
        len(inside),
        ok,
        ok / seconds if seconds > 0 else 0.0,
        len(covered - ok_seconds),
    )


def availability(data: RunData) -> list[AvailabilityRow]:
    """Rows: no fault, then each fault kind, then any fault (when more than one kind).
    Empty when the run had no faults (there is nothing to compare)."""
    if not data.windows:
        return []
    ops = [(op.call_time / 1e9, op.status == "ok") for op in data.operations]
    ok_seconds = {int(start) for start, ok in ops if ok}
    by_fault: dict[str, list[FaultWindow]] = {}
    for window in data.windows:
        by_fault.setdefault(window.fault, []).append(window)
    faulty = _merge([(w.start_s, w.end_s) for w in data.windows])
    rows = [_row("no fault", _complement(faulty, data.end_s), 0, ok_seconds, ops)]
    for fault, windows in by_fault.items():
        spans = _merge([(w.start_s, w.end_s) for w in windows])
        rows.append(_row(fault, spans, len(windows), ok_seconds, ops))
    if len(by_fault) > 1:
        rows.append(_row("any fault", faulty, len(data.windows), ok_seconds, ops))
    return rows
