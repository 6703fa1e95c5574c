"""The search: Wing & Gong / Lowe's linearizability check of one (sub-)history.

Why this shape (as Knossos's `wgl` and Porcupine do): the history becomes a doubly
linked list of call and return entries in real-time order. Any call that comes before
the first remaining return may be linearized next ("just in time"); linearizing lifts
its call and return out of the list, backtracking puts them back. A configuration is
(set of linearized ops, model state); one already explored is never explored again.

Our refinements, all exact:
- the linearized set is kept as (floor, window, info bits): `floor` is the lowest
  required op not yet linearized, `window` a bitset of linearized required ops above
  it (a few bits: only ops concurrent with the floor op can be linearized), and `info
  bits` a bitset over the `info` ops only. Memo keys stay small on 100k-op histories.
- `info` ops (outcome unknown) have their return at +infinity and need not be
  linearized at all. They are tried lazily: only when no required op can go next
  ("phase 1"), which keeps the search from guessing unknown effects early.
- dominance: (required set R, info set I, state s) explored (or on the current path)
  makes (R, I' ⊇ I, s) pointless - anything it can do, the smaller configuration can do
  by not linearizing the extra info ops. So the memo maps (floor, window, state) to the
  info sets seen, and a new configuration is pruned if one of them is a subset.
- interchangeable info ops (same f, key, value, error) are used in invocation order.
- the stack is a cons list of immutable frames, so the deepest partial linearization
  found can be kept by reference (for the counterexample) at O(1) cost.

And one over-approximation, used only to prove invalidity (`part_steps`): a relaxed
search in which info ops may take effect repeatedly, so used info ops need no tracking.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from checkers.history import Operation

# How many dead ends at the deepest level to remember for the counterexample.
MAX_DEAD_ENDS = 3
# Check the budget every this many iterations (a power of two minus one, as a mask).
BUDGET_MASK = 4095
# Rough bytes per memo entry, for the memory budget (tuple, ints, list, state refs).
BYTES_PER_ENTRY = 220


@dataclass
class DeadEnd:
    """A deepest partial linearization and the op that could not follow it."""

    order: list[int]  # local op indices, in linearization order
    state: Any  # model state after `order`
    blocked: int  # the op whose return came before it could be linearized


@dataclass
class SearchOutcome:
    valid: bool | str  # True, False or "unknown"
    order: list[int] = field(default_factory=list)  # a witness when valid
    dead_ends: list[DeadEnd] = field(default_factory=list)  # when not valid
    configs: int = 0  # configurations explored (memo entries)
    iterations: int = 0
    max_depth: int = 0
    required: int = 0
    reason: str = ""  # why "unknown"
    note: str = ""  # how the verdict was reached, when unusual


def _order_from(stack: Any, eop: list[int]) -> list[int]:
    order: list[int] = []
    while stack is not None:
        order.append(eop[stack[0]])
        stack = stack[6]
    order.reverse()
    return order


def search(
    ops: list[Operation],
    model: Any,
    *,
    deadline: float | None = None,
    max_configs: int | None = None,
) -> SearchOutcome:
    """Is `ops` (one partition, prepared by the model, in invocation order) linearizable?

    `deadline` is a `time.monotonic()` instant and `max_configs` a memo size; past
    either the answer is "unknown" (never a guess)."""
    runner = part_steps(ops, model)
    started = time.monotonic()
    while True:
        try:
            configs = next(runner)
        except StopIteration as done:
            return done.value
        reason = ""
        if deadline is not None and time.monotonic() > deadline:
            reason = f"time budget spent after {time.monotonic() - started:.1f} s"
        elif max_configs is not None and configs > max_configs:
            reason = f"memory budget spent ({configs} configurations)"
        if reason:
            return stop(runner, reason)


def stop(runner: Generator[int, None, SearchOutcome], reason: str) -> SearchOutcome:
    """End a paused search early; its outcome is "unknown" with what it explored."""
    if inspect.getgeneratorstate(runner) == inspect.GEN_CREATED:
        runner.close()
        return SearchOutcome("unknown", reason=reason)
    try:
        runner.throw(_Stop(reason))
    except StopIteration as done:
        return done.value
    raise RuntimeError("search did not stop")  # pragma: no cover


class _Stop(Exception):
    """Thrown into a paused search to end it with an "unknown" outcome."""


# Start the relaxed search next to the exact one once the exact one has explored this
# many configurations per op (a valid history typically needs a few).
ESCALATE_PER_OP = 16
ESCALATE_MIN = 4096
# Slices of the relaxed search per slice of the exact one, once both run: the exact one
# is struggling by then, and on a valid history the relaxed one soon answers "valid"
# and stops, so its share costs little there.
RELAXED_SHARE = 3
RELAXED_NOTE = (
    "proved with info ops allowed to take effect more than once: an over-approximation, "
    "so no exact linearization exists either"
)


def part_steps(ops: list[Operation], model: Any) -> Generator[int, None, SearchOutcome]:
    """Check one part: the exact search, plus - once it struggles - the relaxed one
    (`reuse_info`) interleaved with it, for models that declare `relaxable`.

    Why: proving a history invalid means exhausting the search space behind the first
    impossible op, and with open-ended info ops that space multiplies by the subsets of
    info ops used. The relaxed search has no such subsets; if even it finds no
    linearization, none exists. Its "valid" proves nothing and is ignored."""
    exact = search_steps(ops, model)
    relaxed: Generator[int, None, SearchOutcome] | None = None
    can_relax = bool(getattr(model, "relaxable", False)) and any(op.ret is None for op in ops)
    threshold = max(ESCALATE_MIN, ESCALATE_PER_OP * len(ops))
    exact_configs = relaxed_configs = 0
    while True:
        try:
            exact_configs = next(exact)
        except StopIteration as done:
            if relaxed is not None:
                relaxed.close()
            outcome: SearchOutcome = done.value
            outcome.configs += relaxed_configs
            return outcome
        if relaxed is None and can_relax and exact_configs > threshold:
            relaxed = search_steps(ops, model, reuse_info=True)
        for _ in range(RELAXED_SHARE if relaxed is not None else 0):
            try:
                relaxed_configs = next(relaxed)  # type: ignore[arg-type]
            except StopIteration as done:
                relaxed, can_relax = None, False
                if done.value.valid is False:
                    exact.close()
                    outcome = done.value
                    outcome.configs += exact_configs
                    outcome.note = RELAXED_NOTE
                    return outcome
                break
        try:
            yield exact_configs + relaxed_configs
        except _Stop as why:
            if relaxed is not None:
                relaxed.close()
            outcome = stop(exact, str(why))
            outcome.configs += relaxed_configs
            return outcome


def search_steps(
    ops: list[Operation], model: Any, *, reuse_info: bool = False
) -> Generator[int, None, SearchOutcome]:
    """The search as a generator: it pauses every few thousand iterations, yielding the
    number of configurations explored so far, so that a scheduler can interleave many
    partitions (and stop early when one is invalid) and enforce budgets. Throwing
    `_Stop` into it ends it with an "unknown" outcome.

    `reuse_info` relaxes the semantics: an info op may take effect any number of times
    after its invocation, so the memo no longer tracks which info ops were used. That
    accepts more histories than the truth, so only its "invalid" is a verdict (see
    `part_steps`); in exchange it is immune to the blow-up of info-op subsets."""
    n = len(ops)
    is_info = [op.ret is None for op in ops]
    n_required = n - sum(is_info)
    if n_required == 0:
        return SearchOutcome(True, [], required=0)

    # Bit positions: required ops by invocation order, info ops in their own bitset.
    rix = [0] * n
    ibit = [0] * n
    r = k = 0
    for i in range(n):
        if is_info[i]:
            ibit[i] = 1 << k
            k += 1
        else:
            rix[i] = r
            r += 1

    # Two doubly linked lists over one pair of arrays. The main list holds the calls and
    # returns of required ops in real-time order (head sentinel 0); the info list holds
    # the calls of info ops (head sentinel `ihead`), which have no return. Keeping info
    # calls apart means the usual scan never walks over the (possibly many, possibly
    # never linearized) pending info ops.
    events: list[tuple[int, int, int]] = []  # (position, 0 call / 1 return, op)
    info_events: list[tuple[int, int]] = []
    for i, op in enumerate(ops):
        if op.ret is None:
            info_events.append((op.call, i))
        else:
            events.append((op.call, 0, i))
            events.append((op.ret, 1, i))
    events.sort()
    info_events.sort()
    n_main = len(events)
    ihead = n_main + 2  # main: 0, entries 1..n_main, tail n_main + 1
    size = ihead + len(info_events) + 2
    head = 0
    nxt = list(range(1, size + 1))
    prv = list(range(-1, size - 1))
    nxt[n_main + 1] = n_main + 1  # never followed: scans stop at a return
    is_call = [False] * size
    eop = [0] * size
    pos = [0] * size  # event position of an entry (info limit checks)
    match = [0] * size
    call_entry = [0] * n
    for e, (where, kind, i) in enumerate(events, start=1):
        eop[e] = i
        pos[e] = where
        if kind == 0:
            is_call[e] = True
            call_entry[i] = e
        else:
            match[call_entry[i]] = e
    for e, (where, i) in enumerate(info_events, start=ihead + 1):
        eop[e] = i
        pos[e] = where
    itail = size - 1
    pos[itail] = 1 << 62  # the info tail is never a candidate
    # Interchangeable info ops: same f, key, value and error. Once two of them are both
    # invoked, using the earlier-invoked one first loses nothing (swap their roles in any
    # linearization), so an info op is a candidate only when the previous one of its
    # class is already linearized: members of a class are used in invocation order,
    # and configurations that differ only by which twin was used coincide in the memo.
    before = [0] * n  # bit of the previous interchangeable info op (0: none)
    last_of: dict[Any, int] = {}
    for _, i in info_events:
        op = ops[i]
        try:
            cls = (op.f, op.key, op.value, op.error)
            hash(cls)
        except TypeError:
            continue
        if cls in last_of:
            before[i] = ibit[last_of[cls]]
        last_of[cls] = i

    step = model.step
    state = model.init()
    floor = window = ibits = 0
    stack: Any = None
    depth = 0
    remaining = n_required
    entry = nxt[head]
    # 0: scanning required calls in the main list; otherwise scanning the info list,
    # and `phase` is the first remaining return (info calls before it are candidates).
    phase = 0
    cache: dict[tuple[int, int, Any], list[int]] = {}
    configs = 0
    iterations = 0
    best_depth = -1
    # (stack, state, blocked op): frames are immutable, so keeping a reference is O(1);
    # the order is only materialised when the search ends.
    deepest: list[tuple[Any, Any, int]] = []

    def dead_ends() -> list[DeadEnd]:
        return [DeadEnd(_order_from(s, eop), st, b) for s, st, b in deepest]

    while True:
        iterations += 1
        if not iterations & BUDGET_MASK:
            try:
                yield configs
            except _Stop as why:
                return SearchOutcome(
                    "unknown",
                    dead_ends=dead_ends(),
                    configs=configs,
                    iterations=iterations,
                    max_depth=max(best_depth, depth),
                    required=n_required,
                    reason=str(why),
                )
        if phase:
            candidate = pos[entry] < pos[phase]
            if candidate and before[eop[entry]] and not ibits & before[eop[entry]]:
                entry = nxt[entry]  # its earlier twin goes first
                continue
        else:
            candidate = is_call[entry]
        if candidate:
            i = eop[entry]
            ok, new_state = step(state, ops[i])
            if ok:
                if phase:
                    fl = floor
                    w = window
                    ib = ibits if reuse_info else ibits | ibit[i]
                else:
                    b = rix[i] - floor
                    w = window | (1 << b)
                    fl = floor
                    if b == 0:
                        t = (~w & (w + 1)).bit_length() - 1
                        w >>= t
                        fl += t
                    ib = ibits
                key = (fl, w, new_state)
                seen = cache.get(key)
                fresh = True
                if seen is None:
                    cache[key] = [ib]
                else:
                    for old in seen:
                        if old | ib == ib:
                            fresh = False
                            break
                    if fresh:
                        seen.append(ib)
                if fresh:
                    configs += 1
                    stack = (entry, state, floor, window, ibits, phase, stack)
                    depth += 1
                    state, floor, window, ibits = new_state, fl, w, ib
                    # lift the call (and a required op's return) out of its list
                    if not phase or not reuse_info:
                        p, q = prv[entry], nxt[entry]
                        nxt[p] = q
                        prv[q] = p
                    if not phase:
                        ret = match[entry]
                        p, q = prv[ret], nxt[ret]
                        nxt[p] = q
                        prv[q] = p
                        remaining -= 1
                        if remaining == 0:
                            return SearchOutcome(
                                True,
                                _order_from(stack, eop),
                                configs=configs,
                                iterations=iterations,
                                max_depth=depth,
                                required=n_required,
                            )
                    entry = nxt[head]
                    phase = 0
                    continue
            entry = nxt[entry]
            continue
        if not phase:
            # No required op can go next: try the unknown (info) ones invoked before
            # the first remaining return, which is `entry`.
            phase = entry
            entry = nxt[ihead]
            continue
        # Dead end: the op returning at `phase` cannot be linearized here.
        if depth > best_depth:
            best_depth = depth
            deepest = [(stack, state, eop[phase])]
        elif depth == best_depth and len(deepest) < MAX_DEAD_ENDS:
            blocked = eop[phase]
            if all(b != blocked or st != state for _, st, b in deepest):
                deepest.append((stack, state, blocked))
        if stack is None:
            return SearchOutcome(
                False,
                dead_ends=dead_ends(),
                configs=configs,
                iterations=iterations,
                max_depth=best_depth,
                required=n_required,
            )
        entry, state, floor, window, ibits, phase, stack = stack
        depth -= 1
        if not phase:
            remaining += 1
            ret = match[entry]
            nxt[prv[ret]] = ret
            prv[nxt[ret]] = ret
        if not phase or not reuse_info:
            nxt[prv[entry]] = entry
            prv[nxt[entry]] = entry
        entry = nxt[entry]
