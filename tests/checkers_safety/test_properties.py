"""Property tests: histories produced by a correct atomic object under random
interleavings pass the set, counter and durability checkers; one planted loss fails them.

The generator runs processes against one sequential object: an op is invoked, takes
effect atomically at a later step, and completes later still (sometimes as `info`,
after which the process is retired), so every generated history is linearizable.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from checkers import counter, durability, sets
from checkers.history import Op


@dataclass
class _Sim:
    kind: str  # "set" | "counter" | "register"
    rng: random.Random
    ops: list[Op] = field(default_factory=list)
    state: Any = None

    def emit(self, type_: str, proc: int, f: str, value: Any, **extra: Any) -> None:
        self.ops.append(
            Op(type=type_, f=f, process=proc, value=value, key="k", time=len(self.ops) * 1000,
               index=len(self.ops), extra=extra)
        )  # fmt: skip

    def choose(self, element: int) -> tuple[str, Any]:
        read = self.rng.random() < 0.3
        if self.kind == "set":
            return ("read", None) if read else ("append", element)
        if self.kind == "counter":
            return ("read", None) if read else ("incr", self.rng.randrange(-2, 5))
        return ("read", None) if read else ("write", self.rng.randrange(4))

    def effect(self, f: str, value: Any) -> Any:
        if f == "read":
            return sorted(self.state) if self.kind == "set" else self.state
        if self.kind == "set":
            self.state.add(value)
        elif self.kind == "counter":
            self.state += value
        else:
            self.state = value
        return value

    def run(self, steps: int, procs: int) -> list[Op]:
        self.state = set() if self.kind == "set" else (0 if self.kind == "counter" else None)
        active = list(range(procs))
        phase: dict[int, list[Any]] = {}  # proc -> [f, value, result, applied?]
        next_proc, element = procs, 0
        for _ in range(steps):
            slot = self.rng.randrange(procs)
            proc = active[slot]
            if proc not in phase:
                element += 1
                f, value = self.choose(element)
                phase[proc] = [f, value, None, False]
                self.emit("invoke", proc, f, value)
            elif not phase[proc][3]:
                phase[proc][2] = self.effect(phase[proc][0], phase[proc][1])
                phase[proc][3] = True
            else:
                f, value, result, _ = phase.pop(proc)
                if f != "read" and self.rng.random() < 0.1:
                    self.emit("info", proc, f, value)
                    active[slot], next_proc = next_proc, next_proc + 1
                else:
                    self.emit("ok", proc, f, result)
        for proc, (f, value, result, applied) in list(phase.items()):
            self.emit("ok" if applied else "info", proc, f, result if applied else value)
        final = self.effect("read", None)
        self.emit("invoke", 10_000, "read", None, final=True)
        self.emit("ok", 10_000, "read", final, final=True)
        return self.ops


def _history(kind: str, seed: int, steps: int, procs: int) -> list[Op]:
    return _Sim(kind, random.Random(seed)).run(steps, procs)


SEEDS = st.integers(min_value=0, max_value=2**32 - 1)
STEPS = st.integers(min_value=5, max_value=120)
PROCS = st.integers(min_value=1, max_value=6)


@settings(max_examples=60, deadline=None)
@given(seed=SEEDS, steps=STEPS, procs=PROCS)
def test_correct_set_histories_are_valid(seed, steps, procs):
    ops = _history("set", seed, steps, procs)
    assert sets.check(ops).valid is not False
    assert durability.check(ops).valid is True


@settings(max_examples=60, deadline=None)
@given(seed=SEEDS, steps=STEPS, procs=PROCS)
def test_set_losing_an_acknowledged_element_is_invalid(seed, steps, procs):
    ops = _history("set", seed, steps, procs)
    acked = [o.value for o in ops if o.type == "ok" and o.f == "append"]
    if not acked:
        return
    victim = random.Random(seed).choice(acked)
    ops[-1].value = [v for v in ops[-1].value if v != victim]
    assert sets.check(ops).valid is False
    assert durability.check(ops).valid is False


@settings(max_examples=60, deadline=None)
@given(seed=SEEDS, steps=STEPS, procs=PROCS)
def test_correct_counter_histories_are_valid(seed, steps, procs):
    ops = _history("counter", seed, steps, procs)
    assert counter.check(ops).valid is True


@settings(max_examples=60, deadline=None)
@given(seed=SEEDS, steps=STEPS, procs=PROCS)
def test_counter_read_beyond_every_increment_is_invalid(seed, steps, procs):
    ops = _history("counter", seed, steps, procs)
    ceiling = sum(o.value for o in ops if o.type == "invoke" and o.f == "incr" and o.value > 0)
    ops[-1].value = ceiling + 1
    assert counter.check(ops).valid is False


@settings(max_examples=60, deadline=None)
@given(seed=SEEDS, steps=STEPS, procs=PROCS)
def test_correct_register_histories_keep_acknowledged_writes(seed, steps, procs):
    ops = _history("register", seed, steps, procs)
    assert durability.check(ops).valid is True
    if not any(o.f == "write" for o in ops):
        return  # a key nobody wrote is not a register durability can judge
    ops[-1].value = 99  # a value no one wrote
    assert durability.check(ops).valid is False
