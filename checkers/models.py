"""Sequential specifications ("models") for the linearizability checker.

A model says what one operation does to the state of a sequential object. The checker
searches for an order of the history's operations in which every `step` returns True.

Writing your own model (see docs/checkers-linearizability.md):

    class Flag(Model):
        name = "flag"
        ops = frozenset({"set", "read"})

        def init(self):
            return False

        def step(self, state, op):
            if op.f == "set":
                return True, True
            return op.result == state, state        # read

States must be hashable and should be small (None, ints, strings, tuples, frozensets):
the checker memoises (linearized ops, state) pairs. `op` is a
`checkers.history.Operation`: `op.f`, `op.value` (the invocation's argument),
`op.result` (the completion's value), `op.status` ("ok", "fail" or "info"; for "info"
the result is unknown, so `step` must return what the op does if it took effect). An
`info` op that never took effect is handled by the checker (it is simply never
linearized), so `step` need not model that case.

Hooks with sensible defaults: `prepare(op)` normalises values (lists to tuples) and
drops ops that constrain nothing (`fail` ops, `info` reads); override `keep_failed(op)`
when a failed op still tells something (a cas whose compare did not match says the
value differed). `partition(ops)` splits a keyed history per key (P-compositionality:
independent keys are checked independently); `describe(state)` renders a state.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, ClassVar

from checkers.history import HistoryError, Operation

# Errors on a failed cas that mean "the compare did not match" (so the value differed).
# None: Jepsen's own clients mark a mismatched cas `:fail` without an error.
CAS_MISMATCH_ERRORS = frozenset({None, "precondition-failed", "cas-mismatch", "mismatch", 22})
# Errors on a failed cas/read that mean "the key is absent".
NOT_FOUND_ERRORS = frozenset({"not-found", "key-does-not-exist", 20})

READS = frozenset({"read", "get"})


class ModelError(HistoryError):
    """An operation the model does not understand (names the line)."""


def freeze(value: Any) -> Any:
    """Make a JSON/EDN value hashable so that it can be part of a state."""
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), freeze(v)) for k, v in value.items()))
    if isinstance(value, set | frozenset):
        return frozenset(freeze(v) for v in value)
    return value


class Model:
    """Base class: override `init` and `step`; the rest has defaults."""

    name: ClassVar[str] = ""
    ops: ClassVar[frozenset[str]] = frozenset()
    # Whether a keyed history is split per key and each key checked on its own.
    split_by_key: bool = True
    # Whether applying an info op again and again reaches only finitely many states
    # (writes, cas, set adds: yes; increments, appends: no). If so, the checker may
    # run a relaxed search that proves invalid histories much faster.
    relaxable: ClassVar[bool] = False

    def init(self) -> Hashable:
        raise NotImplementedError

    def step(self, state: Any, op: Operation) -> tuple[bool, Any]:
        raise NotImplementedError

    def keep_failed(self, op: Operation) -> bool:
        """Whether a `fail` op still constrains the state (default: it did not happen)."""
        return False

    def prepare(self, op: Operation) -> Operation | None:
        """Normalise an op before the search, or return None to leave it out."""
        if self.ops and op.f not in self.ops:
            raise ModelError(
                f"model {self.name!r} does not know op {op.f!r} "
                f"(it knows {', '.join(sorted(self.ops))})",
                line=op.call_line,
            )
        if op.status == "fail" and not self.keep_failed(op):
            return None
        if op.status == "info" and op.f in READS:
            return None  # an unknown read constrains nothing
        op.value = freeze(op.value)
        op.result = freeze(op.result)
        return op

    def partition(self, ops: list[Operation]) -> list[tuple[Any, list[Operation]]]:
        """Per-key sub-histories (P-compositionality), or the whole history as one."""
        if not self.split_by_key:
            return [(None, ops)]
        groups: dict[Any, list[Operation]] = {}
        for op in ops:
            groups.setdefault(freeze(op.key), []).append(op)
        return list(groups.items())

    def describe(self, state: Any) -> str:
        return repr(state)


def _cas_args(op: Operation) -> tuple[Any, Any]:
    value = op.value
    if isinstance(value, tuple) and len(value) == 2 and not isinstance(value[0], tuple):
        return value
    if isinstance(value, tuple) and value and all(isinstance(p, tuple) for p in value):
        d = dict(value)  # a frozen dict
        for a, b in (("from", "to"), ("old", "new"), ("expected", "new")):
            if a in d and b in d:
                return d[a], d[b]
    if isinstance(value, tuple) and len(value) == 2:
        return value
    raise ModelError(f"cas value must be [from, to], got {op.value!r}", line=op.call_line)


def register_step(state: Any, op: Operation) -> tuple[bool, Any]:
    """read/get, write/put, cas, delete on one register; None means absent."""
    f = op.f
    if f == "read" or f == "get":
        return op.result == state, state
    if f == "write" or f == "put":
        return True, op.value
    if f == "cas":
        old, new = op.value
        if op.status == "fail":
            if op.error in NOT_FOUND_ERRORS:
                return state is None, state
            return state != old, state
        if state == old and state is not None:
            return True, new
        return False, state
    if f == "delete":
        if op.status == "fail":  # kept only for not-found
            return state is None, state
        return True, None
    return False, state


class RegisterModel(Model):
    """A single register: `write` v, `read` -> v. Starts as None (absent)."""

    name = "register"
    ops = frozenset({"read", "write"})
    relaxable = True

    def init(self) -> Any:
        return None

    def prepare(self, op: Operation) -> Operation | None:
        prepared = super().prepare(op)
        if prepared is not None and prepared.f == "cas":
            prepared.value = _cas_args(prepared)
        return prepared

    # A plain function, not a method wrapper: this is the hottest call of the search.
    step = staticmethod(register_step)


class CasRegisterModel(RegisterModel):
    """A register with compare-and-set (`cas` [from to]); a failed cas whose compare did
    not match means the register held something other than `from` during the op (this
    is how the etcd histories recorded by Jepsen must be read). Keyed ops are checked
    per key, so this is also the model for the multi-key `kv` workload."""

    name = "cas-register"
    ops = frozenset({"read", "write", "cas"})

    def keep_failed(self, op: Operation) -> bool:
        return op.f == "cas" and (op.error in CAS_MISMATCH_ERRORS or op.error in NOT_FOUND_ERRORS)


class EtcdKVModel(CasRegisterModel):
    """etcd-like keys: read/get of a missing key returns None (nil); put/write; cas
    against a missing key fails; delete removes the key. Split per key."""

    name = "etcd-kv"
    ops = frozenset({"read", "get", "write", "put", "cas", "delete"})

    def keep_failed(self, op: Operation) -> bool:
        if op.f == "delete":
            return op.error in NOT_FOUND_ERRORS
        return super().keep_failed(op)


class KVModel(CasRegisterModel):
    """Many cas registers in one map. By default split per key (exact, since keys are
    independent); `KVModel(split=False)` (`kv-whole`) checks the map as one object,
    which is slower and exists to cross-check the split."""

    name = "kv"
    ops = frozenset({"read", "write", "cas", "delete"})

    def __init__(self, split: bool = True):
        self.split_by_key = split
        self._keys: dict[Any, int] = {}

    def prepare(self, op: Operation) -> Operation | None:
        prepared = super().prepare(op)
        if prepared is not None:
            self._keys.setdefault(freeze(prepared.key), len(self._keys))
        return prepared

    def keep_failed(self, op: Operation) -> bool:
        if op.f == "delete":
            return op.error in NOT_FOUND_ERRORS
        return super().keep_failed(op)

    def init(self) -> Any:
        return (None,) * len(self._keys) if not self.split_by_key else None

    def step(self, state: Any, op: Operation) -> tuple[bool, Any]:
        if self.split_by_key:
            return register_step(state, op)
        slot = self._keys[freeze(op.key)]
        ok, value = register_step(state[slot], op)
        if not ok or value == state[slot]:
            return ok, state
        return True, state[:slot] + (value,) + state[slot + 1 :]

    def describe(self, state: Any) -> str:
        if self.split_by_key:
            return repr(state)
        names = sorted(self._keys, key=self._keys.__getitem__)
        return "{" + ", ".join(f"{k!r}: {state[i]!r}" for i, k in enumerate(names)) + "}"


class KVWholeModel(KVModel):
    name = "kv-whole"
    __doc__ = KVModel.__doc__

    def __init__(self) -> None:
        super().__init__(split=False)


class SetModel(Model):
    """A grow-only set: `add` x, `read` -> all elements (any order)."""

    name = "set"
    ops = frozenset({"add", "read"})
    relaxable = True

    def init(self) -> Any:
        return frozenset()

    def prepare(self, op: Operation) -> Operation | None:
        prepared = super().prepare(op)
        if prepared is not None and prepared.f == "read":
            if not isinstance(prepared.result, tuple | frozenset):
                raise ModelError(
                    f"set read must return a list, got {op.result!r}", line=op.ret_line
                )
            prepared.result = frozenset(prepared.result)
        return prepared

    def step(self, state: Any, op: Operation) -> tuple[bool, Any]:
        if op.f == "add":
            return True, state | {op.value}
        return op.result == state, state

    def describe(self, state: Any) -> str:
        return "#{" + " ".join(repr(v) for v in sorted(state, key=repr)) + "}"


class CounterModel(Model):
    """An integer counter starting at 0: `add` d (Jepsen; the result echoes d) or `incr`
    d (raftnode; an ok result is the new value), d defaulting to 1; `read` -> value."""

    name = "counter"
    ops = frozenset({"add", "incr", "read"})

    def init(self) -> Any:
        return 0

    def step(self, state: Any, op: Operation) -> tuple[bool, Any]:
        if op.f == "read":
            return op.result == state, state
        new = state + (1 if op.value is None else op.value)
        if op.f == "incr" and op.status == "ok" and op.result is not None and op.result != new:
            return False, state
        return True, new


class ListAppendModel(Model):
    """A list per key: `append` x (an ok result, when a list, is the list after the
    append), `read` -> the list. Starts empty; split per key."""

    name = "list-append"
    ops = frozenset({"append", "read"})

    def init(self) -> Any:
        return ()

    def prepare(self, op: Operation) -> Operation | None:
        prepared = super().prepare(op)
        if prepared is not None and prepared.f == "read" and prepared.result is None:
            prepared.result = ()
        return prepared

    def step(self, state: Any, op: Operation) -> tuple[bool, Any]:
        if op.f == "read":
            return op.result == state, state
        new = state + (op.value,)
        if op.status == "ok" and isinstance(op.result, tuple) and op.result != new:
            return False, state
        return True, new


class PorcupineKVModel(Model):
    """Porcupine's test kv: string values per key, `get` -> value ("" if missing),
    `put` v, `append` v (concatenates). Split per key."""

    name = "porcupine-kv"
    ops = frozenset({"get", "put", "append"})

    def init(self) -> Any:
        return ""

    def step(self, state: Any, op: Operation) -> tuple[bool, Any]:
        f = op.f
        if f == "get":
            return op.result == state, state
        if f == "put":
            return True, op.value
        return True, state + op.value


MODELS: dict[str, type[Model]] = {
    cls.name: cls
    for cls in (
        RegisterModel,
        CasRegisterModel,
        KVModel,
        KVWholeModel,
        SetModel,
        CounterModel,
        ListAppendModel,
        EtcdKVModel,
        PorcupineKVModel,
    )
}


def get_model(name: str | Model) -> Model:
    """A fresh model instance by name (a Model instance is returned as is)."""
    if isinstance(name, Model):
        return name
    try:
        return MODELS[name]()
    except KeyError:
        raise ValueError(f"unknown model {name!r} (known: {', '.join(sorted(MODELS))})") from None
