"""The list-append checker: what lost, duplicated or diverging appends look like.

The append workload appends unique integers to a few lists and reads whole lists. The
linearizability checker (list-append model) already rejects any bad history, but its
verdict is "no linearization" and its search can run out of budget on a long one; this
check is linear-time and names the symptom directly, per key:

- lost: an acknowledged append missing from the last read of its key (the final read),
  or missing from a read begun after it was acknowledged that no later read repairs
  (the element fates are the set checker's, see checkers.sets: stale and unexpected
  elements are violations too);
- duplicated: an element that appears twice in one read. Elements are unique, so this
  is one request applied twice (a retry without dedup: the dup-apply bug);
- divergent: two reads of a key that are not prefixes of each other. Appends only ever
  extend a list, so every read must be a prefix of the longest one; anything else is
  a reordered or rewritten log (two leaders, a truncated committed entry).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from checkers import sets
from checkers.history import Op, Operation, pair_history
from checkers.result import Result, brief

NAME = "append"
MAX_DIVERGENCES_PER_KEY = 3  # the first few are the evidence; the rest is noise


def _reads_by_key(paired: list[Operation]) -> dict[Any, list[Operation]]:
    out: dict[Any, list[Operation]] = defaultdict(list)
    for op in paired:
        if op.f == "read" and op.status == "ok" and isinstance(op.result, list | tuple):
            out[op.key].append(op)
    return out


def _first_difference(a: Sequence[Any], b: Sequence[Any]) -> int:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return min(len(a), len(b))


def _divergences(result: Result, key: Any, reads: list[Operation]) -> int:
    """Every read must be a prefix of the longest read of its key. If A and B are both
    prefixes of the longest, one is a prefix of the other, so comparing each read with
    the longest finds every pair that is not."""
    longest = max(reads, key=lambda r: len(r.result))
    found = 0
    for read in reads:
        values = read.result
        if tuple(values) == tuple(longest.result[: len(values)]):
            continue
        found += 1
        if found <= MAX_DIVERGENCES_PER_KEY:
            at = _first_difference(values, longest.result)
            result.add_violation(
                f"reads of key {key!r} diverge: {brief(read)} and {brief(longest)} differ "
                f"at position {at} ({_at(values, at)} vs {_at(longest.result, at)}), "
                "so one is not a prefix of the other",
                kind="divergent",
                key=key,
                read=read.id,
                other=longest.id,
                position=at,
            )
    return found


def _at(values: Sequence[Any], i: int) -> str:
    return repr(values[i]) if i < len(values) else "end of list"


def check(ops: Sequence[Op]) -> Result:
    """Lost, duplicated, stale/unexpected (from the set checker) and divergent appends."""
    fates = sets.check(ops)
    result = Result(
        name=NAME,
        valid=fates.valid,
        violations=list(fates.violations),
        violation_count=fates.violation_count,
        warnings=list(fates.warnings),
    )
    paired = pair_history(ops).ops
    divergent = 0
    for key, reads in _reads_by_key(paired).items():
        divergent += _divergences(result, key, reads)
    counts = dict(fates.details.get("counts", {}))
    counts["divergent"] = divergent
    result.details = {**fates.details, "counts": counts}
    result.summary = fates.summary + (f"; {divergent} divergent reads" if divergent else "")
    return result
