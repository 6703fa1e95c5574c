"""The set checker, after Jepsen's set-full: what happened to each added element.

Elements are added with `add` (value = element) or `append` on a key; reads (`read`)
return the whole collection (for that key). For every element the checker finds when
it became *known* (its add was acknowledged, or a read first returned it) and compares
all reads that began after that moment:

- stable: every such read returned it;
- lost: the last such read did not return it (it vanished and never came back);
- stale: some such read missed it but a later one returned it (a non-linearizable
  read; only an error when `linearizable`, the default, as Raft reads should be);
- never-read: no read began after it was known (nothing to judge);
- unexpected: a read returned an element that was never added, whose add had failed,
  or before its add was even invoked;
- duplicated: a read returned it more than once (a retried add applied twice);
- recovered: its add ended `info` (unknown) but reads show it took effect (fine).

Order is the history's event order (positions), the controller's single clock.
Memory: one compact array of read numbers per element, never a set per read, since a
long test reads sets of tens of thousands of elements thousands of times.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from checkers.history import Op, Operation, pair_history
from checkers.result import MAX_LISTED, UNKNOWN, Result, brief

ADD_FS = ("add", "append")
READ_FS = ("read",)


def _hashable(value: Any) -> Hashable:
    """Elements may arrive as JSON lists; make them usable as set members."""
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _keyed(key: Any) -> str:
    return "" if key is None else f" of key {key!r}"


@dataclass
class _KeyState:
    adds: dict[Hashable, list[Operation]] = field(default_factory=lambda: defaultdict(list))
    reads: list[Operation] = field(default_factory=list)


def _collect(paired: list[Operation], result: Result) -> dict[Any, _KeyState]:
    keys: dict[Any, _KeyState] = defaultdict(_KeyState)
    for op in paired:
        if op.f in ADD_FS:
            keys[op.key].adds[_hashable(op.value)].append(op)
        elif op.f in READ_FS and op.status == "ok":
            if op.result is None or isinstance(op.result, list | tuple | set | frozenset):
                keys[op.key].reads.append(op)
            else:
                result.warnings.append(
                    f"read op {op.id} returned {type(op.result).__name__}, not a collection; ignored"
                )
    return keys


class _SetCheck:
    def __init__(self, linearizable: bool) -> None:
        self.linearizable = linearizable
        self.result = Result(name="set", valid=True)
        self.outcome: dict[str, list[Any]] = defaultdict(list)
        self.attempted = 0
        self.acknowledged = 0

    def key(self, key: Any, state: _KeyState) -> None:
        reads = sorted(state.reads, key=lambda r: r.call)
        read_calls = [r.call for r in reads]
        present = self._present(key, reads)
        for element, seen_at in present.items():
            self._unexpected(key, element, state.adds.get(element), reads[seen_at[0]])
        for element, adds in state.adds.items():
            self.attempted += 1
            ok_rets = [a.ret for a in adds if a.status == "ok" and a.ret is not None]
            self.acknowledged += bool(ok_rets)
            seen_at = present.get(element) or array("I")
            known_list = list(ok_rets)
            if seen_at:
                known_list.append(reads[seen_at[0]].ret)
            known_list = [k for k in known_list if k is not None]
            if not known_list:
                self.outcome["not-known"].append(element)
                continue
            if not ok_rets and any(a.status == "info" for a in adds):
                self.outcome["recovered"].append(element)
            known = min(known_list)
            start = bisect_right(read_calls, known)
            after = len(reads) - start
            if after == 0:
                self.outcome["never-read"].append(element)
            elif len(seen_at) - bisect_left(seen_at, start) == after:
                self.outcome["stable"].append(element)
            elif not seen_at or seen_at[-1] != len(reads) - 1:
                self._lost(key, element, known, reads[-1])
            else:
                seen = set(seen_at[bisect_left(seen_at, start) :])
                missed = next(i for i in range(start, len(reads)) if i not in seen)
                self._stale(key, element, reads[missed])

    def _present(self, key: Any, reads: list[Operation]) -> dict[Hashable, array]:
        """Per element, the numbers (into `reads`) of the reads that returned it; also
        reports elements a read returned more than once."""
        present: dict[Hashable, array] = {}
        duplicated: set[Hashable] = set()
        for i, read in enumerate(reads):
            values = read.result or ()
            seen = {_hashable(v) for v in values}
            if len(seen) != len(values) and isinstance(values, list | tuple):
                self._duplicates(key, read, values, duplicated)
            for element in seen:
                found = present.get(element)
                if found is None:
                    present[element] = array("I", (i,))
                else:
                    found.append(i)
        return present

    def _duplicates(self, key: Any, read: Operation, values: Any, reported: set[Hashable]) -> None:
        counts: dict[Hashable, int] = defaultdict(int)
        for v in values:
            counts[_hashable(v)] += 1
        for element, n in counts.items():
            if n > 1 and element not in reported:
                reported.add(element)
                self.outcome["duplicated"].append(element)
                self.result.add_violation(
                    f"element {element!r}{_keyed(key)} appears {n} times in {brief(read)}",
                    kind="duplicated",
                    key=key,
                    element=_jsonable(element),
                    read=read.id,
                )

    def _unexpected(
        self, key: Any, element: Hashable, adds: list[Operation] | None, first_read: Operation
    ) -> None:
        """An element read must have an add that did not fail and was invoked before
        the read completed."""
        reason = None
        if not adds:
            reason = "was never added"
        elif all(a.status == "fail" for a in adds):
            reason = "was only added by failed ops"
        elif first_read.ret is not None and min(a.call for a in adds) > first_read.ret:
            reason = "was read before its add was invoked"
        if reason is None:
            return
        self.outcome["unexpected"].append(element)
        self.result.add_violation(
            f"element {element!r}{_keyed(key)} returned by {brief(first_read)} {reason}",
            kind="unexpected",
            key=key,
            element=_jsonable(element),
            read=first_read.id,
        )

    def _lost(self, key: Any, element: Hashable, known: int, last: Operation) -> None:
        self.outcome["lost"].append(element)
        self.result.add_violation(
            f"element {element!r}{_keyed(key)} lost: known since history position {known}, "
            f"missing from the last read {brief(last)}",
            kind="lost",
            key=key,
            element=_jsonable(element),
            read=last.id,
        )

    def _stale(self, key: Any, element: Hashable, missed: Operation) -> None:
        """`missed`: the first read begun after the element was known that lacks it (the
        op a time-to-detection and the report point at)."""
        self.outcome["stale"].append(element)
        if self.linearizable:
            self.result.add_violation(
                f"element {element!r}{_keyed(key)} stale: {brief(missed)}, begun after it "
                "was known, missed it; a later read returned it",
                kind="stale",
                key=key,
                element=_jsonable(element),
                read=missed.id,
            )


def check(ops: Sequence[Op], *, linearizable: bool = True) -> Result:
    """Classify every added element; lost, unexpected, duplicated (and stale if
    `linearizable`) elements make the history invalid."""
    paired = pair_history(ops).ops
    sc = _SetCheck(linearizable)
    result = sc.result
    keys = _collect(paired, result)
    for key, state in keys.items():
        sc.key(key, state)
    counts = {name: len(v) for name, v in sc.outcome.items()}
    result.details = {
        "keys": len(keys),
        "attempted": sc.attempted,
        "acknowledged": sc.acknowledged,
        "reads": sum(len(s.reads) for s in keys.values()),
        "counts": counts,
        "examples": {
            name: [_jsonable(e) for e in v[:MAX_LISTED]] for name, v in sc.outcome.items()
        },
    }
    if not any(s.reads for s in keys.values()):
        if result.valid is True:
            result.valid = UNKNOWN
        result.summary = "no ok reads: nothing to judge"
        return result
    names = ("stable", "lost", "stale", "unexpected", "duplicated", "recovered", "never-read")
    result.summary = (
        f"{sc.attempted} elements attempted, {sc.acknowledged} acknowledged: "
        + ", ".join(f"{counts.get(n, 0)} {n}" for n in names if counts.get(n) or n == "stable")
    )
    return result
