"""Generated concurrent histories, for the checker's tests and benchmark.

Why a simulator and not random ops: a history produced by running a *sequential*
implementation under a random interleaving is linearizable by construction (each op
takes effect at one instant between its invocation and completion), so "the checker
must say valid" is a real oracle. Each op's effect happens at a random moment inside
its interval; `info` ops take effect or not (a coin flip) and their process retires.
`noise` replaces some results with random ones, producing histories that may or may
not be linearizable (for comparison against brute force).

The specs here are written independently of `checkers.models` (they compute results;
the models only check them), so a bug in a model does not hide itself.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from checkers.history import Op

SMALL = 5  # register values 0..4: small domains make concurrent histories ambiguous


class Spec:
    """A sequential implementation: which ops to issue and what they return."""

    reads = ("read",)

    def init(self) -> Any:
        return None

    def pick(self, rng: random.Random, uid: int) -> tuple[str, Any]:
        raise NotImplementedError

    def apply(self, state: Any, f: str, value: Any) -> tuple[Any, str, Any, Any]:
        """-> (new state, "ok" | "fail", result, error)."""
        raise NotImplementedError

    def noise(self, f: str, value: Any, result: Any, rng: random.Random) -> Any:
        return rng.randrange(SMALL)

    def impossible(self, result: Any) -> Any:
        """A read result no execution could produce."""
        return 999


class RegisterSpec(Spec):
    fs = ("read", "write")

    def pick(self, rng: random.Random, uid: int) -> tuple[str, Any]:
        f = rng.choice(self.fs)
        if f == "write":
            return f, rng.randrange(SMALL)
        if f == "cas":
            return f, [rng.randrange(SMALL), rng.randrange(SMALL)]
        if f == "delete":
            return f, None
        return f, None

    def apply(self, state: Any, f: str, value: Any) -> tuple[Any, str, Any, Any]:
        if f == "read":
            return state, "ok", state, None
        if f == "write":
            return value, "ok", value, None
        if f == "delete":
            return None, "ok", None, None
        old, new = value
        if state is None:
            return state, "fail", value, "not-found"
        if state != old:
            return state, "fail", value, "precondition-failed"
        return new, "ok", value, None

    def noise(self, f: str, value: Any, result: Any, rng: random.Random) -> Any:
        return rng.choice([None, *range(SMALL)])


class CasRegisterSpec(RegisterSpec):
    fs = ("read", "write", "cas", "cas")


class KVSpec(RegisterSpec):
    fs = ("read", "write", "cas", "delete")


class SetSpec(Spec):
    def init(self) -> Any:
        return frozenset()

    def pick(self, rng: random.Random, uid: int) -> tuple[str, Any]:
        return ("add", uid) if rng.random() < 0.6 else ("read", None)

    def apply(self, state: Any, f: str, value: Any) -> tuple[Any, str, Any, Any]:
        if f == "add":
            return state | {value}, "ok", value, None
        return state, "ok", sorted(state), None

    def noise(self, f: str, value: Any, result: Any, rng: random.Random) -> Any:
        return sorted(set(result) ^ {rng.randrange(8)})

    def impossible(self, result: Any) -> Any:
        return [*result, -1]


class CounterSpec(Spec):
    def init(self) -> Any:
        return 0

    def pick(self, rng: random.Random, uid: int) -> tuple[str, Any]:
        return ("add", rng.randrange(1, 4)) if rng.random() < 0.6 else ("read", None)

    def apply(self, state: Any, f: str, value: Any) -> tuple[Any, str, Any, Any]:
        if f == "add":
            return state + value, "ok", value, None
        return state, "ok", state, None

    def noise(self, f: str, value: Any, result: Any, rng: random.Random) -> Any:
        return max(0, result + rng.choice([-2, -1, 1, 2]))

    def impossible(self, result: Any) -> Any:
        return -1


class ListAppendSpec(Spec):
    def init(self) -> Any:
        return ()

    def pick(self, rng: random.Random, uid: int) -> tuple[str, Any]:
        return ("append", uid) if rng.random() < 0.6 else ("read", None)

    def apply(self, state: Any, f: str, value: Any) -> tuple[Any, str, Any, Any]:
        if f == "append":
            new = (*state, value)
            return new, "ok", list(new), None
        return state, "ok", list(state), None

    def noise(self, f: str, value: Any, result: Any, rng: random.Random) -> Any:
        out = list(result)
        if len(out) >= 2:
            i = rng.randrange(len(out) - 1)
            out[i], out[i + 1] = out[i + 1], out[i]
        else:
            out.append(rng.randrange(8))
        return out

    def impossible(self, result: Any) -> Any:
        return [*result, -1]


class PorcupineKVSpec(Spec):
    reads = ("get",)

    def init(self) -> Any:
        return ""

    def pick(self, rng: random.Random, uid: int) -> tuple[str, Any]:
        f = rng.choice(("get", "get", "put", "append", "append"))
        return (f, None) if f == "get" else (f, f"x{uid}y")

    def apply(self, state: Any, f: str, value: Any) -> tuple[Any, str, Any, Any]:
        if f == "get":
            return state, "ok", state, None
        if f == "put":
            return value, "ok", value, None
        return state + value, "ok", value, None

    def noise(self, f: str, value: Any, result: Any, rng: random.Random) -> Any:
        return result[: len(result) // 2]

    def impossible(self, result: Any) -> Any:
        return result + "zzz"


SPECS: dict[str, type[Spec]] = {
    "register": RegisterSpec,
    "cas-register": CasRegisterSpec,
    "kv": KVSpec,
    "kv-whole": KVSpec,
    "etcd-kv": KVSpec,
    "set": SetSpec,
    "counter": CounterSpec,
    "list-append": ListAppendSpec,
    "porcupine-kv": PorcupineKVSpec,
}


@dataclass
class _Worker:
    process: int
    op: tuple[str, Any, Any] | None = None  # (f, value, key) in flight
    applied: tuple[str, Any, Any] | None = None  # (status, result, error) once effective
    lost: bool = False  # an info op that will never take effect


def generate(
    model: str,
    *,
    n_ops: int,
    keys: int = 1,
    concurrency: int = 5,
    info_rate: float = 0.0,
    noise: float = 0.0,
    seed: int = 0,
) -> list[Op]:
    """A history of `n_ops` client operations for `model`, in our Op format. With
    `noise` 0 it is linearizable by construction."""
    rng = random.Random(seed)
    spec = SPECS[model]()
    states: dict[Any, Any] = {}
    workers = [_Worker(process=p) for p in range(concurrency)]
    next_process = concurrency
    ops: list[Op] = []
    issued = 0
    uid = 0

    def emit(op_type: str, f: str, process: int, value: Any, key: Any, error: Any = None) -> None:
        ops.append(
            Op(
                type=op_type,
                f=f,
                process=process,
                value=value,
                key=key,
                time=len(ops) * 1000,
                index=len(ops),
                error=error,
            )
        )

    while issued < n_ops or any(w.op is not None for w in workers):
        w = rng.choice(workers)
        if w.op is None:
            if issued >= n_ops:
                continue
            uid += 1
            f, value = spec.pick(rng, uid)
            key = f"k{rng.randrange(keys)}" if keys > 1 else None
            w.op, w.applied, w.lost = (f, value, key), None, False
            issued += 1
            emit("invoke", f, w.process, value, key)
        elif w.applied is None and not w.lost:
            f, value, key = w.op
            if info_rate and rng.random() < info_rate / 2:
                w.lost = True  # will complete as info without taking effect
                continue
            state = states.get(key, spec.init())
            new_state, status, result, error = spec.apply(state, f, value)
            states[key] = new_state
            w.applied = (status, result, error)
        else:
            f, value, key = w.op
            if w.lost or (info_rate and rng.random() < info_rate / 2):
                emit("info", f, w.process, value, key, error="timeout")
                w.process = next_process
                next_process += 1
            else:
                assert w.applied is not None
                status, result, error = w.applied
                if status == "ok" and f in spec.reads and noise and rng.random() < noise:
                    result = spec.noise(f, value, result, rng)
                emit(status, f, w.process, result, key, error=error)
            w.op = None
    return ops


def corrupt_one_read(model: str, ops: list[Op], rng: random.Random) -> list[Op] | None:
    """A copy of `ops` with one ok read's value made impossible (None if no ok read)."""
    spec = SPECS[model]()
    reads = [i for i, op in enumerate(ops) if op.type == "ok" and op.f in spec.reads]
    if not reads:
        return None
    i = rng.choice(reads)
    out = list(ops)
    bad = ops[i]
    out[i] = Op(
        type=bad.type,
        f=bad.f,
        process=bad.process,
        value=spec.impossible(bad.value),
        key=bad.key,
        time=bad.time,
        index=bad.index,
    )
    return out
