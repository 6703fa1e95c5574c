"""The operation history: the one data type every checker reads.

A history is a list of `Op`s in the order they happened (DESIGN.md, "Formats"). Each
client operation appears twice: an `invoke` and later a completion (`ok`, `fail` or
`info`) from the same process. The JSONL on disk is one `Op.to_json()` per line.

This module holds the data type and the JSONL reader/writer; importers for other tools'
formats (Jepsen EDN, Porcupine logs) live in `checkers.formats`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TextIO

OP_TYPES = ("invoke", "ok", "fail", "info")
NEMESIS = "nemesis"
# Input limits: past them a file is not a history anyone recorded, and reading on would
# only end in a MemoryError or RecursionError (e.g. /dev/zero, or [[[[… a million deep).
MAX_LINE_BYTES = 64 * 1024 * 1024
MAX_NESTING = 100


class _NoExtra(dict):  # type: ignore[type-arg]
    """The one empty `extra` that ops without extra fields (almost all) share: a dict, so
    it compares, serialises and copies like {}, but one nobody can fill by accident."""

    def _read_only(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("Op.extra of an op without extra fields is read-only")

    __setitem__ = __delitem__ = update = setdefault = pop = popitem = clear = _read_only  # type: ignore[assignment]
    __ior__ = _read_only  # type: ignore[assignment]

    def __copy__(self) -> _NoExtra:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> _NoExtra:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (_no_extra, ())


NO_EXTRA: Mapping[str, Any] = _NoExtra()


class HistoryError(ValueError):
    """Input that cannot be read as a history; `line` is 1-based when known."""

    def __init__(self, message: str, *, line: int | None = None, source: str | None = None):
        where = ""
        if source is not None:
            where += f"{source}"
        if line is not None:
            where += f":{line}" if where else f"line {line}"
        super().__init__(f"{where}: {message}" if where else message)
        self.line = line
        self.source = source


def _no_extra() -> Mapping[str, Any]:
    return NO_EXTRA


@dataclass(slots=True)
class Op:
    """One history event. `process` is an int for clients, "nemesis" for faults.

    Slots and a shared empty `extra`: a long test's history is millions of these, and a
    per-op __dict__ plus an empty dict tripled the memory a check needs."""

    type: str
    f: str
    process: int | str
    value: Any = None
    key: Any = None
    time: int = 0
    index: int = -1
    error: Any = None
    node: str | None = None
    extra: Mapping[str, Any] = field(default_factory=_no_extra)
    # 1-based line in the file it was read from (for error messages); never serialized.
    line: int | None = field(default=None, repr=False, compare=False)

    @property
    def is_client(self) -> bool:
        return self.process != NEMESIS

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "index": self.index,
            "time": self.time,
            "process": self.process,
            "type": self.type,
            "f": self.f,
        }
        if self.key is not None:
            out["key"] = self.key
        out["value"] = self.value
        if self.error is not None:
            out["error"] = self.error
        if self.node is not None:
            out["node"] = self.node
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Op:
        extra = {k: v for k, v in obj.items() if k not in _KNOWN_FIELDS}
        return cls(
            type=obj["type"],
            f=obj["f"],
            process=obj["process"],
            value=obj.get("value"),
            key=obj.get("key"),
            time=int(obj.get("time", 0)),
            index=int(obj.get("index", -1)),
            error=obj.get("error"),
            node=obj.get("node"),
            extra=extra or NO_EXTRA,
        )


_OP_TYPE_NAMES = {name: name for name in OP_TYPES}  # one string object per type
_KNOWN_FIELDS = frozenset(
    ("index", "time", "process", "type", "f", "key", "value", "error", "node")
)


def hashable(value: Any) -> Any:
    """A hashable stand-in for a decoded value (lists become tuples, maps sorted pairs),
    so that keys and set elements can be dict keys whatever a file put in them."""
    if isinstance(value, list | tuple):
        return tuple(hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), hashable(v)) for k, v in value.items()))
    return value


class Interner:
    """Shares equal strings read from one file (op types, fs, keys, node names, error
    codes): each decoded JSON line would otherwise hold its own copy of every one."""

    def __init__(self) -> None:
        self._seen: dict[str, str] = {}

    def __call__(self, value: Any) -> Any:
        if type(value) is str and len(value) <= 200:
            return self._seen.setdefault(value, value)
        return value


def _check_key(key: Any) -> Any:
    if key is None or isinstance(key, str | int | float):
        return key
    if isinstance(key, list):
        return hashable(key)
    raise ValueError(f"field 'key' must be a string, number or list, not {_kind(key)}")


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string"}.get(
        type(value), type(value).__name__
    )


_INT64 = 2**63


def _check_int(obj: dict[str, Any], name: str, default: int) -> int:
    value = obj.get(name, default)
    if type(value) is int and -_INT64 <= value < _INT64:
        return value  # the common case, first
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"field {name!r} must be a number, not {_kind(value)}")
    try:
        number = int(value)
    except (ValueError, OverflowError):
        raise ValueError(f"field {name!r} must be a finite number, not {value!r}") from None
    if not -_INT64 <= number < _INT64:
        raise ValueError(f"field {name!r} is out of range ({value!r} does not fit 64 bits)")
    return number


def validate_op_json(
    obj: Any,
    *,
    line: int | None = None,
    source: str | None = None,
    intern: Interner | None = None,
) -> Op:
    """Turn one decoded JSON value into an Op, or raise HistoryError naming the line.
    Every field a checker groups or compares by (f, key, node, time, index) must have a
    usable type here: a dict as a key would otherwise crash a checker far from the line."""
    if not isinstance(obj, dict):
        raise HistoryError("expected a JSON object", line=line, source=source)
    for name in ("type", "f", "process"):
        if name not in obj:
            raise HistoryError(f"missing field {name!r}", line=line, source=source)
    if obj["type"] not in OP_TYPES:
        raise HistoryError(
            f"unknown op type {obj['type']!r} (expected one of {', '.join(OP_TYPES)})",
            line=line,
            source=source,
        )
    process = obj["process"]
    if not isinstance(process, int | str) or isinstance(process, bool):
        raise HistoryError(
            "field 'process' must be an integer or a string", line=line, source=source
        )
    share = intern or (lambda v: v)
    try:
        if not isinstance(obj["f"], str):
            raise ValueError(f"field 'f' must be a string, not {_kind(obj['f'])}")
        node = obj.get("node")
        if node is not None and not isinstance(node, str):
            raise ValueError(f"field 'node' must be a string, not {_kind(node)}")
        if obj.keys() <= _KNOWN_FIELDS:
            extra: Mapping[str, Any] = NO_EXTRA
        else:
            extra = {k: v for k, v in obj.items() if k not in _KNOWN_FIELDS}
        return Op(
            type=_OP_TYPE_NAMES[obj["type"]],
            f=share(obj["f"]),
            process=share(process),
            value=obj.get("value"),
            key=share(_check_key(obj.get("key"))),
            time=_check_int(obj, "time", 0),
            index=_check_int(obj, "index", -1),
            error=share(obj.get("error")),
            node=share(node),
            extra=extra,
            line=line,
        )
    except (TypeError, ValueError, OverflowError) as exc:
        message = str(exc) if str(exc).startswith("field ") else f"bad field: {exc}"
        raise HistoryError(message, line=line, source=source) from exc


@dataclass
class ReadResult:
    """Ops read from a file, plus what was skipped and why (warnings keep line numbers)
    and the format it was read as."""

    ops: Sequence[Op]
    warnings: list[str] = field(default_factory=list)
    format: str | None = None


# --- decoding one JSON line safely ------------------------------------------------------


class LineError(ValueError):
    """One line's JSON is unusable; the message says why (the caller adds the line)."""


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise LineError(f"number {text} is out of range (not a finite float)")
    return value


def _no_constant(name: str) -> Any:
    raise LineError(f"{name} is not a number a history can hold")


_DECODER = json.JSONDecoder(parse_float=_finite_float, parse_constant=_no_constant)


def _depth(obj: Any) -> int:
    """Nesting depth of a decoded value, without recursion."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, list):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in value if isinstance(v, list | dict))
    return deepest


def decode_json_line(raw: str) -> Any:
    """json.loads for one history line, refusing what no recorder writes and what would
    crash a checker later: NaN/Infinity, numbers beyond a float, nesting past
    MAX_NESTING. Raises json.JSONDecodeError or LineError."""
    try:
        obj = _DECODER.decode(raw)
    except RecursionError:
        raise LineError(f"nested more than {MAX_NESTING} levels deep") from None
    # Only a line with many brackets can be deep: count them before walking the value.
    if raw.count("[") + raw.count("{") > MAX_NESTING and _depth(obj) > MAX_NESTING:
        raise LineError(f"nested more than {MAX_NESTING} levels deep")
    return obj


# --- reading lines from a file ----------------------------------------------------------


def iter_file_lines(stream: IO[bytes], *, source: str | None = None) -> Iterator[tuple[int, str]]:
    """(line number, text) of every line of a binary stream, decoded one line at a time
    so that a bad byte is reported on its own line; a line longer than MAX_LINE_BYTES is a
    HistoryError (/dev/zero has no newline at all)."""
    number = 0
    while True:
        try:
            raw = stream.readline(MAX_LINE_BYTES)
        except OSError as exc:
            raise HistoryError(
                f"cannot read ({exc.strerror or exc})", line=number + 1, source=source
            ) from None
        if not raw:
            return
        number += 1
        if len(raw) >= MAX_LINE_BYTES and not raw.endswith(b"\n"):
            raise HistoryError(
                f"line longer than {MAX_LINE_BYTES // 2**20} MiB: not a history file",
                line=number,
                source=source,
            )
        try:
            yield number, raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise HistoryError(
                f"not UTF-8 text ({exc.reason})", line=number, source=source
            ) from None


def open_history(path: str | Path) -> IO[bytes]:
    """Open a history file for reading; HistoryError (one line) if that is impossible."""
    path = Path(path)
    try:
        return open(path, "rb")  # noqa: SIM115 - the caller closes it
    except FileNotFoundError:
        raise HistoryError("no such file", source=str(path)) from None
    except IsADirectoryError:
        raise HistoryError("is a directory, not a history file", source=str(path)) from None
    except OSError as exc:
        raise HistoryError(f"cannot read ({exc.strerror})", source=str(path)) from None


def read_jsonl(path: str | Path) -> ReadResult:
    """Read our JSONL history, streaming. A torn last line (a crash mid-write) is dropped
    with a warning; a bad line anywhere else is a HistoryError naming the line."""
    with open_history(path) as stream:
        return parse_jsonl_lines(iter_file_lines(stream, source=str(path)), source=str(path))


def parse_jsonl(text: str, *, source: str | None = None) -> ReadResult:
    lines = enumerate(text.splitlines(keepends=True), start=1)
    return parse_jsonl_lines(lines, source=source)


def parse_jsonl_lines(lines: Iterable[tuple[int, str]], *, source: str | None = None) -> ReadResult:
    """Ops from numbered JSONL lines, one line at a time (a 100 MB history is never held
    as text). Blank lines are skipped; only the very last line may be torn."""
    from checkers.compact_history import History  # it builds on this module

    result = ReadResult(ops=History(source=source), format="jsonl")
    intern = Interner()
    pending: tuple[int, str] | None = None
    for number, raw in lines:
        if not raw.strip():
            continue
        if pending is not None:
            _add_jsonl_op(result, *pending, source=source, intern=intern, last=False)
        pending = (number, raw)
    if pending is not None:
        _add_jsonl_op(result, *pending, source=source, intern=intern, last=True)
    return result


def _add_jsonl_op(
    result: ReadResult, number: int, raw: str, *, source: str | None, intern: Interner, last: bool
) -> None:
    try:
        obj = decode_json_line(raw)
    except json.JSONDecodeError as exc:
        if last and not raw.endswith("\n"):
            result.warnings.append(
                f"{source or 'history'}:{number}: truncated last line dropped ({exc.msg})"
            )
            return
        raise HistoryError(f"invalid JSON ({exc.msg})", line=number, source=source) from None
    except LineError as exc:
        raise HistoryError(str(exc), line=number, source=source) from None
    op = validate_op_json(obj, line=number, source=source, intern=intern)
    if op.index < 0:
        op.index = len(result.ops)
    result.ops.append(op)  # type: ignore[attr-defined] - a History or a list


def write_op(stream: TextIO, op: Op) -> None:
    """Append one op as a JSON line and flush, so a crash leaves a readable prefix."""
    stream.write(json.dumps(op.to_json(), separators=(",", ":"), default=str) + "\n")
    stream.flush()


def write_jsonl(path: str | Path, ops: Iterable[Op]) -> None:
    with open(path, "w", encoding="utf-8") as stream:
        for op in ops:
            write_op(stream, op)


# --- pairing: invocations with their completions ---------------------------------------


@dataclass(slots=True)
class Operation:
    """One client operation: an invocation paired with its completion.

    `call`/`ret` are positions in the event order of the history (the real-time order a
    checker must respect); `ret` is None for an op whose outcome is unknown (`info`, or
    never completed), which may take effect any time after `call`, or never. `value` is
    the invocation's argument, `result` the completion's value (None unless `ok`/`fail`).
    """

    id: int
    process: int | str
    f: str
    key: Any
    value: Any
    result: Any
    status: str  # "ok" | "fail" | "info"
    error: Any
    call: int
    ret: int | None
    call_time: int = 0
    ret_time: int | None = None
    call_line: int | None = None
    ret_line: int | None = None
    node: str | None = None
    # when the completion was recorded, whatever its type (ret_time stays None for info);
    # None if the op never completed. What a timeline draws, not what a checker orders by.
    completion_time: int | None = None

    def describe(self) -> str:
        """A short human rendering, e.g. `p3 cas k2 [1, 4] -> ok`."""
        key = f" {self.key}" if self.key is not None else ""
        arg = "" if self.value is None else f" {self.value!r}"
        out = self.status
        if self.status == "ok" and self.result is not None and self.result != self.value:
            out = f"ok {self.result!r}"
        elif self.status == "fail" and self.error is not None:
            out = f"fail {self.error}"
        return f"p{self.process} {self.f}{key}{arg} -> {out}"


@dataclass
class PairedHistory:
    """Client operations in invocation order, plus notes on what was assumed."""

    ops: list[Operation]
    warnings: list[str] = field(default_factory=list)


def _where(op: Op) -> str:
    return f"line {op.line}" if op.line is not None else f"op {op.index}"


def pair_history(ops: Iterable[Op], *, source: str | None = None) -> PairedHistory:
    """Pair each invocation with the next completion of the same process.

    Why strict: a completion without an invocation, a second invocation while one is
    outstanding, or a completion whose `f` differs means the history was not recorded the
    way the checker assumes, and any verdict on it would be meaningless - so it is a
    HistoryError naming the line. Nemesis ops are skipped. An invocation never completed
    is treated as `info` (the test ended with it in flight). A process that completed an
    op with `info` should never invoke again (Jepsen retires it); if one does, the new
    invocation is still accepted but a warning says so.

    A history read from JSONL (checkers.compact_history.History) was paired while it was
    read: every checker asks for its pairing and gets that one (the Operations shared).
    """
    paired = getattr(ops, "paired", None)
    if callable(paired):
        return paired(source)
    pairer = Pairer(source)
    for position, op in enumerate(ops):
        if op.is_client:
            pairer.add(op, position)
    return pairer.finish()


class Pairer:
    """pair_history one op at a time, so a reader can pair while it reads."""

    def __init__(self, source: str | None = None, share: Callable[[int], int] | None = None):
        self.source = source
        self._share = share or int  # an int pool, so equal positions/ids share one object
        self.out: list[Operation] = []
        self.warnings: list[str] = []
        self.pending: dict[Any, tuple[Op, int]] = {}  # process -> (invoke op, op id)
        self._retired: set[Any] = set()
        self._warned_retired: set[Any] = set()

    def add(self, op: Op, position: int) -> Operation:
        """Take the client op at `position`; returns the Operation it invokes or
        completes (HistoryError if it cannot be paired)."""
        proc = op.process
        if op.type == "invoke":
            return self._invoke(op, position)
        if proc not in self.pending:
            raise HistoryError(
                f"{op.type} completion of {op.f!r} by process {proc} without an invocation",
                line=op.line,
                source=self.source,
            )
        invoke, op_id = self.pending[proc]
        if op.f != invoke.f:
            raise HistoryError(
                f"completion f {op.f!r} does not match the invocation's {invoke.f!r} "
                f"({_where(invoke)})",
                line=op.line,
                source=self.source,
            )
        if op.key is not None and invoke.key is not None and op.key != invoke.key:
            raise HistoryError(
                f"completion key {op.key!r} does not match the invocation's {invoke.key!r}",
                line=op.line,
                source=self.source,
            )
        del self.pending[proc]
        entry = self.out[op_id]
        entry.status = op.type
        entry.error = op.error
        entry.node = op.node or invoke.node
        entry.ret_line = op.line
        entry.completion_time = op.time
        if op.type == "info":
            self._retired.add(proc)
            return entry
        entry.ret = position
        entry.ret_time = op.time
        entry.result = op.value
        return entry

    def _invoke(self, op: Op, position: int) -> Operation:
        proc = op.process
        if proc in self.pending:
            first = self.pending[proc][0]
            raise HistoryError(
                f"process {proc} invoked {op.f!r} while its {first.f!r} from "
                f"{_where(first)} was not completed",
                line=op.line,
                source=self.source,
            )
        if proc in self._retired and proc not in self._warned_retired:
            self._warned_retired.add(proc)
            self.warnings.append(f"{_where(op)}: process {proc} invoked again after an info op")
        entry = Operation(
            id=self._share(len(self.out)),
            process=proc,
            f=op.f,
            key=op.key,
            value=op.value,
            result=None,
            status="info",
            error=None,
            call=position,
            ret=None,
            call_time=op.time,
            call_line=op.line,
        )
        self.pending[proc] = (op, entry.id)
        self.out.append(entry)
        return entry

    def finish(self) -> PairedHistory:
        """The pairing so far (invocations still pending count as info)."""
        warnings = list(self.warnings)
        if self.pending:
            warnings.append(
                f"{len(self.pending)} invocation(s) never completed; "
                "treated as info (outcome unknown)"
            )
        return PairedHistory(list(self.out), warnings)
