"""History: a read history kept as its pairing, ~4x smaller than a list of Ops.

Why: every checker pairs invocations with completions (`pair_history`), and a 100 MB
history (~900k ops) held both as Op objects and as Operations needed ~600 MiB before a
checker had done anything. Here the Operations *are* the storage: the reader pairs each
op as it reads it (`Pairer`), and each raw position keeps only which Operation it
invoked or completed, its `index`, its node and, rarely, what the Operation cannot tell
(extra fields, an invocation's error, an info completion's value). Indexing and
iteration rebuild equal Op objects on the fly, so a History reads like a list of Ops.

The Operations are shared with every checker that asks for the pairing: checkers must
not mutate them (the linearizability checker copies the ones its model normalises).
A history that cannot be paired is kept as a plain list of Ops, and asking for its
pairing raises the HistoryError the reader met.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from checkers.history import (
    NO_EXTRA,
    HistoryError,
    Op,
    Operation,
    PairedHistory,
    Pairer,
)


class IntPool:
    """One int object per small non-negative value: a position, the line after it and an
    operation id are equal numbers, and 28 bytes each when every one is its own object."""

    def __init__(self) -> None:
        self._ints: list[int] = []

    def __call__(self, value: int) -> int:
        ints = self._ints
        if value < len(ints):
            return ints[value] if value >= 0 else value
        if value - len(ints) > 1000:  # far ahead: a sparse number, not worth pooling
            return value
        ints.extend(range(len(ints), value + 1))
        return ints[value]


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same type (1, 1.0 and True must not stand in for each other)."""
    return a is b or (type(a) is type(b) and a == b)


class History(Sequence[Op]):
    """Ops in history order, stored as their pairing (see the module docstring)."""

    def __init__(self, source: str | None = None) -> None:
        self.source = source
        self._ints = IntPool()
        self._pairer = Pairer(source, self._ints)
        self._codes = array("q")  # >= 0: 2 * operation id + (1 if completion); < 0: nemesis
        self._indexes = array("q")
        self._nodes = array("H")  # code into _node_names (0: no node)
        self._node_names: list[str | None] = [None]
        self._node_codes: dict[str, int] = {}
        self._nemesis: list[Op] = []
        self._extras: dict[int, Mapping[str, Any]] = {}
        self._overrides: dict[int, dict[str, Any]] = {}
        self._raw: list[Op] | None = None  # set once pairing failed
        self._error: HistoryError | None = None

    # -- building ---------------------------------------------------------------------
    def append(self, op: Op) -> None:
        if self._raw is not None:
            self._raw.append(op)
            return
        position = self._ints(len(self._codes))
        if op.line is not None:
            op.line = self._ints(op.line)
        if op.is_client:
            try:
                entry = self._pairer.add(op, position)
            except HistoryError as exc:
                self._fall_back(exc)
                self.append(op)
                return
            code = 2 * entry.id + (op.type != "invoke")
            self._note_differences(position, op, entry)
        else:
            self._nemesis.append(op)
            code = -len(self._nemesis)
        self._codes.append(code)
        self._indexes.append(op.index)
        self._nodes.append(self._node_code(op.node))
        if op.extra:
            self._extras[position] = op.extra

    def _node_code(self, node: str | None) -> int:
        if node is None:
            return 0
        code = self._node_codes.get(node)
        if code is None:
            code = self._node_codes[node] = len(self._node_names)
            self._node_names.append(node)
        return code

    def _note_differences(self, position: int, op: Op, entry: Operation) -> None:
        """Remember what rebuilding `op` from `entry` would get wrong (rare)."""
        if op.type == "invoke":
            differs = {"error": op.error} if op.error is not None else None
        elif op.value is entry.result and op.key is entry.key:
            return  # a completion that says nothing else: almost all of them
        else:
            rebuilt = {"value": entry.result, "key": entry.key, "time": entry.completion_time}
            actual = {"value": op.value, "key": op.key, "time": op.time}
            differs = {k: v for k, v in actual.items() if not _same(v, rebuilt[k])} or None
        if differs:
            self._overrides[position] = differs

    def _fall_back(self, exc: HistoryError) -> None:
        """Pairing failed: keep the ops as a plain list (the error is raised when the
        pairing is asked for, after the whole file was read)."""
        self._raw = list(self)
        self._error = exc

    # -- reading ----------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._raw) if self._raw is not None else len(self._codes)

    def _op(self, position: int) -> Op:
        code = self._codes[position]
        if code < 0:
            nemesis = self._nemesis[-code - 1]
            return Op(
                nemesis.type,
                nemesis.f,
                nemesis.process,
                nemesis.value,
                nemesis.key,
                nemesis.time,
                nemesis.index,
                nemesis.error,
                nemesis.node,
                nemesis.extra,
                nemesis.line,
            )
        entry = self._pairer.out[code >> 1]
        node = self._node_names[self._nodes[position]]
        extra = self._extras.get(position, NO_EXTRA)
        index = self._indexes[position]
        if code & 1:
            op = Op(
                entry.status,
                entry.f,
                entry.process,
                entry.result,
                entry.key,
                entry.completion_time,  # type: ignore[arg-type] - set: it completed
                index,
                entry.error,
                node,
                extra,
                entry.ret_line,
            )
        else:
            op = Op(
                "invoke",
                entry.f,
                entry.process,
                entry.value,
                entry.key,
                entry.call_time,
                index,
                None,
                node,
                extra,
                entry.call_line,
            )
        differs = self._overrides.get(position)
        if differs:
            for name, value in differs.items():
                setattr(op, name, value)
        return op

    def __getitem__(self, i: Any) -> Any:
        if self._raw is not None:
            return self._raw[i]
        if isinstance(i, slice):
            return [self._op(j) for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError("history index out of range")
        return self._op(i)

    def __iter__(self) -> Iterator[Op]:
        if self._raw is not None:
            return iter(self._raw)
        return map(self._op, range(len(self._codes)))

    def paired(self, source: str | None = None) -> PairedHistory:
        """The pairing made while reading (a fresh list; the Operations are shared)."""
        if self._error is not None:
            raise self._error
        return self._pairer.finish()
