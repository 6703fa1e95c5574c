"""Generators: seeded, composable schedules of operations (interfaces.md §6).

A generator is asked ``next(process, now_s)`` by the runner whenever that process is
idle, and answers one of:

* an :class:`OpRequest` — invoke this op now;
* a :class:`Sleep` — nothing yet, ask again after ``seconds``;
* ``None`` — exhausted for this process (the worker stops asking).

``process`` is an int for client workers and the string ``"nemesis"`` for the fault
schedule. ``now_s`` is seconds since the test began (the runner's monotonic clock).

Why this shape: the runner pulls ops (no generator thread, no queues), so a generator is
just a small state machine. Determinism comes from randomness, not from timing: every
random choice is drawn from the *asking process's* own ``random.Random``, derived from
the tree's seed and the process id. A process's n-th op therefore depends only on the
seed and n — never on how the other processes were interleaved — and the nemesis
schedule (its own process) is the same for the same seed, whatever the timings.
Combinators draw at most once per op they emit, so a Sleep never shifts the sequence.

Generators are not thread-safe; the runner serialises calls to the root with one lock.
Call :meth:`Generator.bind` on the root (the runner does, with the test's seed) before
use; an unbound tree behaves as if bound to seed 0.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

NEMESIS = "nemesis"
Process = int | str

# How often a process waiting at a phases() barrier asks again.
BARRIER_POLL_S = 0.01


@dataclass(frozen=True)
class OpRequest:
    """An op to invoke: the history's ``f``, ``key`` and ``value``; ``extra`` fields
    (e.g. ``{"final": True}``) are copied into the invoke and completion records."""

    f: str
    value: Any = None
    key: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Sleep:
    """Nothing to do yet: ask again after ``seconds`` (relative to the ``now_s`` asked)."""

    seconds: float


Answer = OpRequest | Sleep | None


class RngStore:
    """One ``random.Random`` per process, derived from the seed and the process id.

    String seeds go through SHA-512 in CPython, so the derivation is stable across runs
    and interpreter versions (unlike ``hash()``).
    """

    def __init__(self, seed: int):
        self.seed = seed
        self._rngs: dict[Process, random.Random] = {}

    def get(self, process: Process) -> random.Random:
        rng = self._rngs.get(process)
        if rng is None:
            rng = random.Random(f"splitbrain:{self.seed}:{process}")
            self._rngs[process] = rng
        return rng


class Generator:
    """Base class. Subclasses implement :meth:`next` and list their children."""

    _rngs: RngStore | None = None

    def children(self) -> list[Generator]:
        return []

    def bind(self, seed: int | RngStore) -> Generator:
        """Attach the per-process random streams to this whole tree; returns self."""
        store = seed if isinstance(seed, RngStore) else RngStore(int(seed))
        self._rngs = store
        for child in self.children():
            child.bind(store)
        return self

    def rng(self, process: Process) -> random.Random:
        if self._rngs is None:
            self.bind(0)
        assert self._rngs is not None
        return self._rngs.get(process)

    def next(self, process: Process, now_s: float) -> Answer:
        raise NotImplementedError

    def retire(self, old: Process, new: Process) -> None:
        """Process ``old`` ended an op ``info`` and ``new`` takes its worker slot.

        Per-process state (a phase position, a pending choice) moves to ``new``; the
        random stream does not (``new`` draws from its own, as a fresh Jepsen process).
        """
        for child in self.children():
            child.retire(old, new)

    def fresh(self) -> Generator:
        """An unstarted copy sharing the same random streams (used by cycle and
        each_process), so repeated rounds keep drawing new values."""
        memo: dict[int, Any] = {}
        if self._rngs is not None:
            memo[id(self._rngs)] = self._rngs
        return copy.deepcopy(self, memo)


def _as_request(value: Any) -> OpRequest | None:
    if value is None or isinstance(value, OpRequest):
        return value
    if isinstance(value, dict):
        value = dict(value)
        f = value.pop("f")
        return OpRequest(
            f=f, value=value.pop("value", None), key=value.pop("key", None), extra=value
        )
    raise TypeError(f"a generator function must return an OpRequest, a dict or None, got {value!r}")


# --------------------------------------------------------------------------- leaves


class FnGen(Generator):
    """Calls ``fn(rng, process)`` for every op, forever (or until it returns None).

    ``fn`` gets the asking process's own random stream; it may return an OpRequest or a
    dict ``{"f":…, "key":…, "value":…}``.
    """

    def __init__(self, fn: Callable[[random.Random, Process], Any]):
        self.fn = fn

    def next(self, process: Process, now_s: float) -> Answer:
        return _as_request(self.fn(self.rng(process), process))


def fn(function: Callable[[random.Random, Process], Any]) -> Generator:
    """A leaf: ``function(rng, process) -> OpRequest | dict | None`` per op."""
    return FnGen(function)


class Repeat(Generator):
    """The same op again and again (``times`` in total across processes, or forever)."""

    def __init__(self, op: OpRequest | dict[str, Any], times: int | None = None):
        self.op = _as_request(op)
        self.left = times

    def next(self, process: Process, now_s: float) -> Answer:
        if self.left is not None:
            if self.left <= 0:
                return None
            self.left -= 1
        return self.op


def repeat(op: OpRequest | dict[str, Any], times: int | None = None) -> Generator:
    """``op`` forever, or ``times`` times in total."""
    return Repeat(op, times)


def once(op: OpRequest | dict[str, Any] | Generator) -> Generator:
    """Exactly one op in total, to whichever process asks first, then exhausted.

    Given a generator, takes its first op (``limit(1, gen)``).
    """
    if isinstance(op, Generator):
        return Limit(1, op)
    return Repeat(op, 1)


class Seq(Generator):
    """Ops from a fixed list, in order, shared across processes."""

    def __init__(self, ops: Iterable[OpRequest | dict[str, Any]]):
        self.ops = [_as_request(o) for o in ops]
        self.pos = 0

    def next(self, process: Process, now_s: float) -> Answer:
        if self.pos >= len(self.ops):
            return None
        self.pos += 1
        return self.ops[self.pos - 1]


def seq(ops: Iterable[OpRequest | dict[str, Any]]) -> Generator:
    """The listed ops in order (globally), then exhausted."""
    return Seq(ops)


class SleepGen(Generator):
    """Each process that asks waits ``seconds`` from its first ask, then is exhausted."""

    def __init__(self, seconds: float):
        self.seconds = float(seconds)
        self.started: dict[Process, float] = {}

    def next(self, process: Process, now_s: float) -> Answer:
        start = self.started.setdefault(process, now_s)
        left = start + self.seconds - now_s
        return Sleep(left) if left > 0 else None

    def retire(self, old: Process, new: Process) -> None:
        if old in self.started:
            self.started[new] = self.started.pop(old)


def sleep(seconds: float) -> Generator:
    """No ops: the asking process waits ``seconds`` then moves on (in phases/cycle)."""
    return SleepGen(seconds)


# ---------------------------------------------------------------------- combinators


class Limit(Generator):
    """At most ``n`` ops in total (all processes together) from ``gen``."""

    def __init__(self, n: int, gen: Generator):
        self.left = int(n)
        self.gen = gen

    def children(self) -> list[Generator]:
        return [self.gen]

    def next(self, process: Process, now_s: float) -> Answer:
        if self.left <= 0:
            return None
        answer = self.gen.next(process, now_s)
        if isinstance(answer, OpRequest):
            self.left -= 1
        return answer


def limit(n: int, gen: Generator) -> Generator:
    """At most ``n`` ops in total from ``gen``."""
    return Limit(n, gen)


class TimeLimit(Generator):
    """``gen`` until ``seconds`` after the first time any process asks, then exhausted."""

    def __init__(self, seconds: float, gen: Generator):
        self.seconds = float(seconds)
        self.gen = gen
        self.deadline: float | None = None

    def children(self) -> list[Generator]:
        return [self.gen]

    def next(self, process: Process, now_s: float) -> Answer:
        if self.deadline is None:
            self.deadline = now_s + self.seconds
        if now_s >= self.deadline:
            return None
        answer = self.gen.next(process, now_s)
        if isinstance(answer, Sleep):
            return Sleep(min(answer.seconds, self.deadline - now_s))
        return answer


def time_limit(seconds: float, gen: Generator) -> Generator:
    """Ops from ``gen`` for ``seconds`` (from the first ask), then exhausted."""
    return TimeLimit(seconds, gen)


class Stagger(Generator):
    """Spaces ops from ``gen`` by a random delay, uniform in [0, 2·dt), across all
    processes together: about one op per ``dt`` seconds in total (Jepsen's stagger).

    The delay is drawn from the process that received the op, once per op.
    """

    def __init__(self, dt: float, gen: Generator):
        self.dt = float(dt)
        self.gen = gen
        self.next_time: float | None = None

    def children(self) -> list[Generator]:
        return [self.gen]

    def next(self, process: Process, now_s: float) -> Answer:
        if self.next_time is not None and now_s < self.next_time:
            return Sleep(self.next_time - now_s)
        answer = self.gen.next(process, now_s)
        if isinstance(answer, OpRequest):
            base = now_s if self.next_time is None else max(self.next_time, now_s - self.dt)
            self.next_time = base + self.rng(process).uniform(0, 2 * self.dt)
        return answer


def stagger(dt: float, gen: Generator) -> Generator:
    """About one op every ``dt`` seconds in total (uniform random gaps in [0, 2·dt))."""
    return Stagger(dt, gen)


def rate(ops_per_s: float, gen: Generator) -> Generator:
    """``stagger(1 / ops_per_s, gen)``: a target total rate."""
    return Stagger(1.0 / ops_per_s, gen)


class Mix(Generator):
    """Each op comes from a child picked at random (weighted) by the asking process.

    The pick is remembered until that child yields an op, so a Sleep never causes a
    second draw; a child exhausted for a process is dropped for that process.
    """

    def __init__(self, gens: Sequence[Generator], weights: Sequence[float] | None = None):
        if not gens:
            raise ValueError("mix needs at least one generator")
        if weights is not None and len(weights) != len(gens):
            raise ValueError("mix: one weight per generator")
        self.gens = list(gens)
        self.weights = list(weights) if weights is not None else [1.0] * len(gens)
        self.pending: dict[Process, int] = {}
        self.dead: dict[Process, set[int]] = {}

    def children(self) -> list[Generator]:
        return self.gens

    def next(self, process: Process, now_s: float) -> Answer:
        dead = self.dead.setdefault(process, set())
        while len(dead) < len(self.gens):
            choice = self.pending.get(process)
            if choice is None:
                alive = [i for i in range(len(self.gens)) if i not in dead]
                weights = [self.weights[i] for i in alive]
                choice = self.rng(process).choices(alive, weights)[0]
                self.pending[process] = choice
            answer = self.gens[choice].next(process, now_s)
            if answer is None:
                dead.add(choice)
                del self.pending[process]
                continue
            if isinstance(answer, OpRequest):
                del self.pending[process]
            return answer
        return None

    def retire(self, old: Process, new: Process) -> None:
        super().retire(old, new)
        if old in self.dead:
            self.dead[new] = self.dead.pop(old)
        self.pending.pop(old, None)


def mix(*gens: Generator, weights: Sequence[float] | None = None) -> Generator:
    """A random child per op (optionally weighted)."""
    return Mix(gens, weights)


class AnyOf(Generator):
    """The first child (in order) with an op for this process; else the shortest Sleep;
    None once every child is exhausted for it. Used to merge routed generators."""

    def __init__(self, gens: Sequence[Generator]):
        self.gens = list(gens)

    def children(self) -> list[Generator]:
        return self.gens

    def next(self, process: Process, now_s: float) -> Answer:
        shortest: float | None = None
        for gen in self.gens:
            answer = gen.next(process, now_s)
            if isinstance(answer, OpRequest):
                return answer
            if isinstance(answer, Sleep):
                shortest = answer.seconds if shortest is None else min(shortest, answer.seconds)
        return None if shortest is None else Sleep(shortest)


def any_of(*gens: Generator) -> Generator:
    """Merge generators: each process takes whatever op the first child offers it."""
    return AnyOf(gens)


class Route(Generator):
    """Answers only processes for which ``accept(process)`` holds; None for the others."""

    def __init__(self, accept: Callable[[Process], bool], gen: Generator, label: str):
        self.accept = accept
        self.gen = gen
        self.label = label

    def children(self) -> list[Generator]:
        return [self.gen]

    def next(self, process: Process, now_s: float) -> Answer:
        return self.gen.next(process, now_s) if self.accept(process) else None


def _is_client(process: Process) -> bool:
    return isinstance(process, int)


def _is_nemesis(process: Process) -> bool:
    return process == NEMESIS


def clients(gen: Generator) -> Generator:
    """Only client (integer) processes draw from ``gen``."""
    return Route(_is_client, gen, "clients")


def nemesis(gen: Generator) -> Generator:
    """Only the ``"nemesis"`` process draws from ``gen``."""
    return Route(_is_nemesis, gen, "nemesis")


def clients_and_nemesis(client_gen: Generator, nemesis_gen: Generator | None) -> Generator:
    """The usual root: workload ops to clients, the fault schedule to the nemesis."""
    if nemesis_gen is None:
        return clients(client_gen)
    return any_of(clients(client_gen), nemesis(nemesis_gen))


class Phases(Generator):
    """Children one after another, with a barrier: a process that finished phase i
    waits until every active process has finished it too (Jepsen's ``phases``).

    Active processes are those that have asked and were not retired; a replacement
    process (see :meth:`Generator.retire`) inherits its predecessor's position, a new
    one starts at the earliest phase still running.
    """

    def __init__(self, gens: Sequence[Generator]):
        self.gens = list(gens)
        self.position: dict[Process, int] = {}

    def children(self) -> list[Generator]:
        return self.gens

    def next(self, process: Process, now_s: float) -> Answer:
        if process not in self.position:
            self.position[process] = min(self.position.values(), default=0)
        while True:
            phase = self.position[process]
            if phase >= len(self.gens):
                return None
            if min(self.position.values()) < phase:
                return Sleep(BARRIER_POLL_S)
            answer = self.gens[phase].next(process, now_s)
            if answer is not None:
                return answer
            self.position[process] = phase + 1

    def retire(self, old: Process, new: Process) -> None:
        super().retire(old, new)
        if old in self.position:
            self.position[new] = self.position.pop(old)


def phases(*gens: Generator) -> Generator:
    """Run generators in sequence, all processes finishing one before the next starts."""
    return Phases(gens)


class Cycle(Generator):
    """Restarts a fresh copy of ``gen`` each time it is exhausted (``times`` rounds, or
    forever). Copies share the random streams, so rounds differ."""

    def __init__(self, gen: Generator, times: int | None = None):
        self.template = gen
        self.current = gen.fresh()
        self.rounds_left = times

    def children(self) -> list[Generator]:
        return [self.template, self.current]

    def next(self, process: Process, now_s: float) -> Answer:
        empty_rounds = 0
        while True:
            answer = self.current.next(process, now_s)
            if answer is not None:
                return answer
            if self.rounds_left is not None:
                self.rounds_left -= 1
                if self.rounds_left <= 0:
                    return None
            empty_rounds += 1
            if empty_rounds > 1:  # a round that yields nothing at all: stop, do not spin
                return None
            self.current = self.template.fresh()


def cycle(gen: Generator, times: int | None = None) -> Generator:
    """Repeat ``gen`` from the start whenever it runs out."""
    return Cycle(gen, times)


class FlipFlop(Generator):
    """Alternates one op from ``a``, one from ``b``, … across all processes; exhausted
    when the side whose turn it is runs out (e.g. start-partition / stop-partition)."""

    def __init__(self, a: Generator, b: Generator):
        self.sides = [a, b]
        self.turn = 0

    def children(self) -> list[Generator]:
        return self.sides

    def next(self, process: Process, now_s: float) -> Answer:
        answer = self.sides[self.turn].next(process, now_s)
        if isinstance(answer, OpRequest):
            self.turn = 1 - self.turn
        return answer


def flip_flop(a: Generator, b: Generator) -> Generator:
    """a, b, a, b, … one op at a time."""
    return FlipFlop(a, b)


class EachProcess(Generator):
    """Every process gets its own fresh copy of ``gen`` (so ``limit``/``once`` count
    per process). A replacement process starts a new copy, as a new Jepsen process."""

    def __init__(self, gen: Generator):
        self.template = gen
        self.copies: dict[Process, Generator] = {}

    def children(self) -> list[Generator]:
        return [self.template, *self.copies.values()]

    def next(self, process: Process, now_s: float) -> Answer:
        gen = self.copies.get(process)
        if gen is None:
            gen = self.copies[process] = self.template.fresh()
        return gen.next(process, now_s)


def each_process(gen: Generator) -> Generator:
    """A private copy of ``gen`` per process."""
    return EachProcess(gen)


class Map(Generator):
    """Transforms every op of ``gen`` with ``function(op) -> OpRequest``."""

    def __init__(self, function: Callable[[OpRequest], OpRequest], gen: Generator):
        self.function = function
        self.gen = gen

    def children(self) -> list[Generator]:
        return [self.gen]

    def next(self, process: Process, now_s: float) -> Answer:
        answer = self.gen.next(process, now_s)
        return self.function(answer) if isinstance(answer, OpRequest) else answer


def map_ops(function: Callable[[OpRequest], OpRequest], gen: Generator) -> Generator:
    """Apply ``function`` to each op of ``gen``."""
    return Map(function, gen)


def mark_final(gen: Generator) -> Generator:
    """Tag every op with ``"final": true`` (the runner's final-read phase)."""
    return Map(lambda op: OpRequest(op.f, op.value, op.key, {**op.extra, "final": True}), gen)


def drain(
    gen: Generator,
    processes: Sequence[Process],
    *,
    max_ops: int = 10_000,
    start_s: float = 0.0,
) -> list[tuple[Process, float, OpRequest]]:
    """Run ``gen`` on a virtual clock, round-robin over ``processes``, as if every op
    completed instantly. Returns (process, time, op) triples. For tests, reproducibility
    checks and previews of a schedule; never sleeps for real."""
    out: list[tuple[Process, float, OpRequest]] = []
    now = start_s
    wake = {p: start_s for p in processes}
    served = {p: i for i, p in enumerate(processes)}  # least recently served wins ties
    turn = len(processes)
    while wake and len(out) < max_ops:
        process = min(wake, key=lambda p: (wake[p], served[p]))
        now = max(now, wake[process])
        turn += 1
        served[process] = turn
        answer = gen.next(process, now)
        if answer is None:
            del wake[process]
        elif isinstance(answer, Sleep):
            wake[process] = now + max(answer.seconds, 1e-6)
        else:
            out.append((process, now, answer))
    return out
