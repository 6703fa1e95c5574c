"""Operation statistics: how much of the workload actually ran, and how fast.

A correctness verdict over a history where nothing succeeded proves little, so the
stats are part of every check: ok/fail/info counts and their rates per `f` and overall,
throughput, and latency percentiles (completions with a known end; `info` ops have
none). The verdict is "unknown" when no client op succeeded at all, else true.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from checkers.history import Op, Operation, pair_history
from checkers.result import UNKNOWN, Result

STATUSES = ("ok", "fail", "info")


def percentile(sorted_values: list[int], q: float) -> int | None:
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, min(len(sorted_values), int(-(-q * len(sorted_values) // 1))))
    return sorted_values[rank - 1]


def _ms(ns: int | None) -> float | None:
    return None if ns is None else round(ns / 1e6, 3)


def _group_stats(ops: list[Operation]) -> dict[str, Any]:
    counts = dict.fromkeys(STATUSES, 0)
    latencies: list[int] = []
    for op in ops:
        counts[op.status] = counts.get(op.status, 0) + 1
        if op.ret_time is not None:
            latencies.append(op.ret_time - op.call_time)
    latencies.sort()
    total = len(ops)
    return {
        "count": total,
        **counts,
        "ok_rate": round(counts["ok"] / total, 4) if total else None,
        "fail_rate": round(counts["fail"] / total, 4) if total else None,
        "info_rate": round(counts["info"] / total, 4) if total else None,
        "latency_ms": {
            "p50": _ms(percentile(latencies, 0.50)),
            "p99": _ms(percentile(latencies, 0.99)),
            "max": _ms(latencies[-1] if latencies else None),
        },
    }


def compute(paired: list[Operation], ops: Sequence[Op] = ()) -> dict[str, Any]:
    """The stats as a JSON-ready dict (used by reports as well as by `check`)."""
    by_f: dict[str, list[Operation]] = defaultdict(list)
    for op in paired:
        by_f[op.f].append(op)
    times = [op.time for op in ops if op.time]
    duration_s = (max(times) - min(times)) / 1e9 if len(times) > 1 else 0.0
    overall = _group_stats(paired)
    overall["ok_per_s"] = round(overall["ok"] / duration_s, 2) if duration_s > 0 else None
    return {
        "overall": overall,
        "by_f": {f: _group_stats(group) for f, group in sorted(by_f.items())},
        "duration_s": round(duration_s, 3),
        "nemesis_ops": sum(1 for op in ops if not op.is_client),
    }


def check(ops: Sequence[Op]) -> Result:
    paired = pair_history(ops).ops
    stats = compute(paired, ops)
    overall = stats["overall"]
    result = Result(name="stats", valid=True, details=stats)
    without_ok = [f for f, s in stats["by_f"].items() if s["ok"] == 0]
    if without_ok:
        stats["fs_without_ok"] = without_ok
    if overall["ok"] == 0:
        result.valid = UNKNOWN
        result.summary = f"no client op succeeded ({overall['count']} ops): nothing was tested"
        return result
    result.summary = (
        f"{overall['count']} ops: {overall['ok']} ok, {overall['fail']} fail, "
        f"{overall['info']} info; p50 {overall['latency_ms']['p50']} ms, "
        f"p99 {overall['latency_ms']['p99']} ms"
    )
    if without_ok:
        result.summary += f"; no ok for {', '.join(without_ok)}"
    return result
