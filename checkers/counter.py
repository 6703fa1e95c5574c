"""The counter checker: every read lies within what the increments allow.

Increments are `incr` or `add` ops whose value is the (integer) delta, default 1; reads
(`read`) return the counter. A read can only reflect increments that were invoked
before it completed, and must reflect every increment acknowledged before it was
invoked. So for each read, with `certain` = the ok increments completed before the
read began and `possible` = the other increments (ok or info, not failed) invoked before
the read completed:

    lower = initial + sum(certain) + sum(negative deltas in possible)
    upper = initial + sum(certain) + sum(positive deltas in possible)

A read outside [lower, upper] is a violation. Counters on different keys are separate.
Computed with prefix sums, so long histories cost O(n log n).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from checkers.history import Op, Operation, pair_history
from checkers.result import UNKNOWN, Result, brief

INCR_FS = ("incr", "add")
READ_FS = ("read",)


@dataclass
class _Prefix:
    """Sums of positive and negative deltas of ops sorted by a position."""

    positions: list[int] = field(default_factory=list)
    pos: list[int] = field(default_factory=list)
    neg: list[int] = field(default_factory=list)

    @classmethod
    def build(cls, items: list[tuple[int, int]]) -> _Prefix:
        items.sort()
        return cls(
            positions=[p for p, _ in items],
            pos=[0, *accumulate(max(d, 0) for _, d in items)],
            neg=[0, *accumulate(min(d, 0) for _, d in items)],
        )

    def before(self, position: int) -> tuple[int, int]:
        """(positive sum, negative sum) over ops at positions < `position`."""
        n = bisect_left(self.positions, position)
        return self.pos[n], self.neg[n]


def _delta(op: Operation) -> int | None:
    value = op.value
    if value is None:
        return 1
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def check(ops: Sequence[Op], *, initial: int = 0) -> Result:
    """Check every ok read of every counter key against its bounds."""
    paired = pair_history(ops).ops
    result = Result(name="counter", valid=True)
    incrs: dict[Any, list[Operation]] = defaultdict(list)
    reads: dict[Any, list[Operation]] = defaultdict(list)
    for op in paired:
        if op.f in INCR_FS and op.status != "fail":
            if _delta(op) is None:
                result.warnings.append(
                    f"op {op.id}: increment by {op.value!r} ignored (not an integer)"
                )
                continue
            incrs[op.key].append(op)
        elif op.f in READ_FS and op.status == "ok":
            reads[op.key].append(op)
    checked = 0
    widest = 0
    for key, key_reads in reads.items():
        certain = _Prefix.build(
            [(o.ret, _delta(o)) for o in incrs[key] if o.status == "ok" and o.ret is not None]
        )
        invoked = _Prefix.build([(o.call, _delta(o)) for o in incrs[key]])
        for read in key_reads:
            value = read.result
            if not isinstance(value, int) or isinstance(value, bool):
                result.add_violation(
                    f"read {brief(read)} returned {value!r}, not an integer",
                    kind="bad-value",
                    key=key,
                    read=read.id,
                )
                continue
            c_pos, c_neg = certain.before(read.call)
            i_pos, i_neg = invoked.before(read.ret if read.ret is not None else read.call)
            base = initial + c_pos + c_neg
            lower = base + (i_neg - c_neg)
            upper = base + (i_pos - c_pos)
            checked += 1
            widest = max(widest, upper - lower)
            if not lower <= value <= upper:
                result.add_violation(
                    f"read {brief(read)} returned {value}, outside [{lower}, {upper}]",
                    kind="out-of-bounds",
                    key=key,
                    read=read.id,
                    value=value,
                    lower=lower,
                    upper=upper,
                )
    result.details = {
        "keys": len(set(incrs) | set(reads)),
        "increments": sum(len(v) for v in incrs.values()),
        "reads_checked": checked,
        "widest_bound": widest,
    }
    if checked == 0 and result.valid is True:
        result.valid = UNKNOWN
        result.summary = "no ok reads: nothing to judge"
    elif result.valid is True:
        result.summary = f"all {checked} reads within the bounds of the increments"
    else:
        result.summary = f"{result.violation_count} of {checked} reads outside their bounds"
    return result
