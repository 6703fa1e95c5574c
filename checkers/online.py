"""Online op checks: violations a *prefix* of a history already proves, found as ops arrive.

`--stop-on-violation` (harness/watcher.py) feeds the ops recorded so far into
:class:`OnlineOpsChecker` about once a second; the first violation ends the test early
(it still heals, reads and runs the full check). So every rule here must be sound on a
prefix: an op still in flight may yet take effect (it counts as a possible writer,
never as acknowledged), and a rule only fires on evidence that the full checkers judge
the same way (the set checker, durability, counter bounds and linearizability, which
implies all of them). Positions are the order in which ops were fed, which is the
history's order (the controller's single clock).

Per key, the first op that changes it decides what the key is (a key changed in two
ways, or by an op these rules do not model such as a bank `transfer`, is not judged):

- collections (`append`, `add`): an acknowledged element missing from an ok `read`
  that began after the acknowledgement ("missing"; the set checker calls it stale or
  lost), and an element a read returned twice ("duplicated", a retried add applied
  twice);
- registers (`write`, `put`, `cas`, `delete`): an ok read whose value was written only
  by ops that were over before some write acknowledged before the read began
  ("stale-read", durability's rule applied to every read, not only the final ones), or
  that no op invoked so far could have written ("unexpected");
- counters (`incr`, or `add` in the counter workload): an ok read outside the bounds of
  the counter checker ("out-of-bounds").

Cost: linear in the ops, plus the size of each collection read (its elements are looked
up once); nothing is re-read between calls.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

from checkers.history import NEMESIS, Op

READ_FS = ("read", "get")
WRITE_FS = ("write", "put")
CAS_FS = ("cas",)
DELETE_FS = ("delete",)
APPEND_FS = ("append", "add")
INCR_FS = ("incr", "add")

COLLECTION = "collection"
REGISTER = "register"
COUNTER = "counter"
MIXED = "mixed"  # changed in more than one way, or by an op not modelled: not judged


def _hashable(value: Any) -> Hashable:
    if isinstance(value, list | tuple):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), _hashable(v)) for k, v in value.items()))
    return value


@dataclass(frozen=True)
class OnlineViolation:
    """One proven violation: what, on which key, and the history indexes it cites.
    ``time_ns`` is the history time of the completion that proved it."""

    kind: str
    message: str
    key: Any
    ops: tuple[int, ...]
    time_ns: int

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "message": self.message,
            "key": self.key,
            "ops": list(self.ops),
            "time_s": round(self.time_ns / 1e9, 3),
        }


@dataclass
class _Call:
    """An invocation waiting for its completion."""

    op: Op
    pos: int


@dataclass
class _Source:
    """The writes of one register value: how many may still take effect (in flight or
    ended info), and the latest position at which an ok one ended (None: none did)."""

    open: int = 0
    last_ok_ret: int | None = None


@dataclass
class _Register:
    sources: dict[Hashable, _Source] = field(default_factory=dict)
    ok_rets: list[int] = field(default_factory=list)  # ok writes by completion position
    max_call: list[tuple[int, int]] = field(default_factory=list)  # prefix max (call, index)


@dataclass
class _Collection:
    acked_pos: list[int] = field(default_factory=list)  # acknowledgement positions, sorted
    acked: list[tuple[Hashable, int]] = field(default_factory=list)  # (element, index)
    seen: set[Hashable] = field(default_factory=set)


@dataclass
class _Counter:
    ok_rets: list[int] = field(default_factory=list)
    ok_pos: list[int] = field(default_factory=lambda: [0])  # prefix sums, positive deltas
    ok_neg: list[int] = field(default_factory=lambda: [0])  # prefix sums, negative deltas
    total_pos: int = 0  # over every increment invoked and not failed
    total_neg: int = 0


class OnlineOpsChecker:
    """Feed ops in history order; each call returns the violations they newly prove."""

    def __init__(self, workload: str | None = None, initial_counter: int = 0) -> None:
        self.workload = workload
        self.initial_counter = initial_counter
        self.kinds: dict[Any, str] = {}
        self.registers: dict[Any, _Register] = {}
        self.collections: dict[Any, _Collection] = {}
        self.counters: dict[Any, _Counter] = {}
        self.pending: dict[Any, _Call] = {}
        self.violations: list[OnlineViolation] = []
        self.fed = 0
        self.reads_judged = 0

    # -- feeding -----------------------------------------------------------------------
    def feed_all(self, ops: Iterable[Op]) -> list[OnlineViolation]:
        found: list[OnlineViolation] = []
        for op in ops:
            found += self.feed(op)
        return found

    def feed(self, op: Op) -> list[OnlineViolation]:
        pos = self.fed
        self.fed += 1
        if op.process == NEMESIS:
            return []
        if op.type == "invoke":
            self.pending[op.process] = _Call(op, pos)
            self._invoked(op)
            return []
        call = self.pending.pop(op.process, None)
        if call is None or call.op.f != op.f:
            return []  # a completion without its invocation: the full check reports it
        before = len(self.violations)
        self._completed(call, op, pos)
        return self.violations[before:]

    # -- key kinds ---------------------------------------------------------------------
    def _kind_of(self, f: str) -> str | None:
        if f in WRITE_FS or f in CAS_FS or f in DELETE_FS:
            return REGISTER
        if f == "add":
            return COUNTER if self.workload == "counter" else COLLECTION
        if f in APPEND_FS:
            return COLLECTION
        if f in INCR_FS:
            return COUNTER
        return None

    def _classify(self, op: Op) -> str | None:
        """The key's kind after `op` changed it (MIXED once two kinds meet)."""
        if op.f in READ_FS:
            return self.kinds.get(op.key)
        if op.f == "transfer" and isinstance(op.value, dict):
            for side in ("from", "to"):
                self._forget(op.value.get(side))
            return None
        kind = self._kind_of(op.f)
        known = self.kinds.get(op.key)
        if kind is None or (known is not None and known != kind):
            self._forget(op.key)
            return None
        self.kinds[op.key] = kind
        return kind

    def _forget(self, key: Any) -> None:
        self.kinds[key] = MIXED
        self.registers.pop(key, None)
        self.collections.pop(key, None)
        self.counters.pop(key, None)

    # -- invocations -------------------------------------------------------------------
    def _invoked(self, op: Op) -> None:
        kind = self._classify(op)
        if op.f in READ_FS:
            return
        if kind == REGISTER:
            self._source(op.key, _written(op)).open += 1
        elif kind == COUNTER:
            state = self.counters.setdefault(op.key, _Counter())
            delta = _delta(op.value)
            if delta is not None:
                state.total_pos += max(delta, 0)
                state.total_neg += min(delta, 0)

    def _source(self, key: Any, value: Any) -> _Source:
        register = self.registers.setdefault(key, _Register())
        return register.sources.setdefault(_hashable(value), _Source())

    # -- completions -------------------------------------------------------------------
    def _completed(self, call: _Call, op: Op, pos: int) -> None:
        kind = self.kinds.get(op.key)
        invoke = call.op
        if kind == REGISTER:
            if invoke.f in READ_FS:
                if op.type == "ok":
                    self._register_read(call, op)
            else:
                self._register_write(call, op, pos)
        elif kind == COLLECTION:
            if invoke.f in READ_FS:
                if op.type == "ok":
                    self._collection_read(call, op)
            elif op.type == "ok":
                state = self.collections.setdefault(op.key, _Collection())
                element = _hashable(invoke.value)
                if element not in state.seen:
                    state.seen.add(element)
                    state.acked_pos.append(pos)
                    state.acked.append((element, op.index))
        elif kind == COUNTER:
            if invoke.f in READ_FS:
                if op.type == "ok":
                    self._counter_read(call, op)
            else:
                self._counter_incr(invoke, op, pos)

    def _register_write(self, call: _Call, op: Op, pos: int) -> None:
        if op.type == "info":
            return  # may take effect at any later time: stays an open source
        source = self._source(op.key, _written(call.op))
        source.open = max(source.open - 1, 0)
        if op.type != "ok":
            return
        source.last_ok_ret = pos if source.last_ok_ret is None else max(source.last_ok_ret, pos)
        register = self.registers[op.key]
        best = register.max_call[-1] if register.max_call else (-1, -1)
        register.ok_rets.append(pos)
        register.max_call.append(max(best, (call.pos, call.op.index)))

    def _register_read(self, call: _Call, op: Op) -> None:
        self.reads_judged += 1
        register = self.registers.setdefault(op.key, _Register())
        value = _hashable(op.value)
        source = register.sources.get(value)
        if source is not None and source.open > 0:
            return  # a write of this value may still be taking effect
        latest = source.last_ok_ret if source is not None else None
        if latest is None and value is None:
            latest = -1  # the initial state
        if latest is None:
            self._report(
                "unexpected",
                f"read of {op.key!r} (history index {op.index}) returned {op.value!r}, "
                "which no write invoked before it could have written",
                op.key,
                (call.op.index, op.index),
                op.time,
            )
            return
        n = bisect_left(register.ok_rets, call.pos)
        if n == 0:
            return
        write_call, write_index = register.max_call[n - 1]
        if write_call > latest:
            why = (
                "the initial value"
                if latest < 0
                else "written only by ops over before that write began"
            )
            self._report(
                "stale-read",
                f"read of {op.key!r} (history index {op.index}) returned {op.value!r} "
                f"({why}), but the write invoked at index {write_index} was acknowledged "
                "before the read began",
                op.key,
                (write_index, call.op.index, op.index),
                op.time,
            )

    def _collection_read(self, call: _Call, op: Op) -> None:
        result = op.value
        if not isinstance(result, list | tuple):
            return
        self.reads_judged += 1
        elements = [_hashable(v) for v in result]
        present = set(elements)
        if len(present) != len(elements):
            counts: dict[Hashable, int] = {}
            for element in elements:
                counts[element] = counts.get(element, 0) + 1
            twice = next(e for e, n in counts.items() if n > 1)
            self._report(
                "duplicated",
                f"read of {op.key!r} (history index {op.index}) returned {twice!r} "
                f"{counts[twice]} times",
                op.key,
                (call.op.index, op.index),
                op.time,
            )
        state = self.collections.get(op.key)
        if state is None:
            return
        n = bisect_left(state.acked_pos, call.pos)
        for element, index in state.acked[:n]:
            if element not in present:
                self._report(
                    "missing",
                    f"acknowledged element {element!r} of {op.key!r} (ok at history index "
                    f"{index}) is missing from the read at index {op.index}, which began "
                    "after it was acknowledged",
                    op.key,
                    (index, call.op.index, op.index),
                    op.time,
                )
                return  # one per read is enough to stop a test

    def _counter_incr(self, invoke: Op, op: Op, pos: int) -> None:
        state = self.counters.setdefault(op.key, _Counter())
        delta = _delta(invoke.value)
        if delta is None:
            return
        if op.type == "fail":
            state.total_pos -= max(delta, 0)
            state.total_neg -= min(delta, 0)
        elif op.type == "ok":
            state.ok_rets.append(pos)
            state.ok_pos.append(state.ok_pos[-1] + max(delta, 0))
            state.ok_neg.append(state.ok_neg[-1] + min(delta, 0))

    def _counter_read(self, call: _Call, op: Op) -> None:
        value = op.value
        if not isinstance(value, int) or isinstance(value, bool):
            return
        self.reads_judged += 1
        state = self.counters.setdefault(op.key, _Counter())
        n = bisect_left(state.ok_rets, call.pos)
        lower = self.initial_counter + state.ok_pos[n] + state.total_neg
        upper = self.initial_counter + state.ok_neg[n] + state.total_pos
        if not lower <= value <= upper:
            self._report(
                "out-of-bounds",
                f"read of counter {op.key!r} (history index {op.index}) returned {value}, "
                f"outside [{lower}, {upper}] allowed by the increments",
                op.key,
                (call.op.index, op.index),
                op.time,
            )

    def _report(self, kind: str, message: str, key: Any, ops: tuple[int, ...], t: int) -> None:
        self.violations.append(OnlineViolation(kind, message, key, ops, t))


def _written(op: Op) -> Any:
    """The value a register op writes (cas: its new value; delete: None)."""
    if op.f in CAS_FS:
        value = op.value
        return value[1] if isinstance(value, list | tuple) and len(value) == 2 else None
    if op.f in DELETE_FS:
        return None
    return op.value


def _delta(value: Any) -> int | None:
    if value is None:
        return 1
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None
