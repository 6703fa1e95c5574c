"""The operation history: the one data type every checker reads.

A history is a list of `Op`s in the order they happened (DESIGN.md, "Formats"). Each
client operation appears twice: an `invoke` and later a completion (`ok`, `fail` or
`info`) from the same process. The JSONL on disk is one `Op.to_json()` per line.

This module holds the data type and the JSONL reader/writer; importers for other tools'
formats (Jepsen EDN, Porcupine logs) live in `checkers.formats`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

OP_TYPES = ("invoke", "ok", "fail", "info")
NEMESIS = "nemesis"


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


@dataclass
class Op:
    """One history event. `process` is an int for clients, "nemesis" for faults."""

    type: str
    f: str
    process: int | str
    value: Any = None
    key: Any = None
    time: int = 0
    index: int = -1
    error: Any = None
    node: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
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
        known = {"index", "time", "process", "type", "f", "key", "value", "error", "node"}
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
            extra={k: v for k, v in obj.items() if k not in known},
        )


def validate_op_json(obj: Any, *, line: int | None = None, source: str | None = None) -> Op:
    """Turn one decoded JSON value into an Op, or raise HistoryError naming the line."""
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
    if not isinstance(obj["process"], int | str) or isinstance(obj["process"], bool):
        raise HistoryError(
            "field 'process' must be an integer or a string", line=line, source=source
        )
    try:
        return Op.from_json(obj)
    except (TypeError, ValueError) as exc:
        raise HistoryError(f"bad field: {exc}", line=line, source=source) from exc


@dataclass
class ReadResult:
    """Ops read from a file, plus what was skipped and why (warnings keep line numbers)."""

    ops: list[Op]
    warnings: list[str] = field(default_factory=list)


def iter_jsonl(lines: Iterable[str], *, source: str | None = None) -> Iterator[tuple[int, str]]:
    for number, raw in enumerate(lines, start=1):
        if raw.strip():
            yield number, raw


def read_jsonl(path: str | Path) -> ReadResult:
    """Read our JSONL history. A torn last line (a crash mid-write) is dropped with a
    warning; a bad line anywhere else is a HistoryError naming the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise HistoryError("no such file", source=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise HistoryError(f"not UTF-8 text ({exc.reason})", source=str(path)) from exc
    return parse_jsonl(text, source=str(path))


def parse_jsonl(text: str, *, source: str | None = None) -> ReadResult:
    lines = text.splitlines()
    numbered = list(iter_jsonl(lines, source=source))
    result = ReadResult(ops=[])
    for position, (number, raw) in enumerate(numbered):
        is_last = position == len(numbered) - 1
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            if is_last and not text.endswith("\n"):
                result.warnings.append(
                    f"{source or 'history'}:{number}: truncated last line dropped ({exc.msg})"
                )
                break
            raise HistoryError(f"invalid JSON ({exc.msg})", line=number, source=source) from exc
        op = validate_op_json(obj, line=number, source=source)
        op.line = number
        if op.index < 0:
            op.index = len(result.ops)
        result.ops.append(op)
    return result


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
    """
    out: list[Operation] = []
    warnings: list[str] = []
    pending: dict[Any, tuple[Op, int, int]] = {}  # process -> (invoke op, position, op id)
    retired: set[Any] = set()
    warned_retired: set[Any] = set()
    for position, op in enumerate(ops):
        if not op.is_client:
            continue
        proc = op.process
        if op.type == "invoke":
            if proc in pending:
                first = pending[proc][0]
                raise HistoryError(
                    f"process {proc} invoked {op.f!r} while its {first.f!r} from "
                    f"{_where(first)} was not completed",
                    line=op.line,
                    source=source,
                )
            if proc in retired and proc not in warned_retired:
                warned_retired.add(proc)
                warnings.append(f"{_where(op)}: process {proc} invoked again after an info op")
            pending[proc] = (op, position, len(out))
            out.append(
                Operation(
                    id=len(out),
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
            )
            continue
        if proc not in pending:
            raise HistoryError(
                f"{op.type} completion of {op.f!r} by process {proc} without an invocation",
                line=op.line,
                source=source,
            )
        invoke, _, op_id = pending.pop(proc)
        if op.f != invoke.f:
            raise HistoryError(
                f"completion f {op.f!r} does not match the invocation's {invoke.f!r} "
                f"({_where(invoke)})",
                line=op.line,
                source=source,
            )
        if op.key is not None and invoke.key is not None and op.key != invoke.key:
            raise HistoryError(
                f"completion key {op.key!r} does not match the invocation's {invoke.key!r}",
                line=op.line,
                source=source,
            )
        entry = out[op_id]
        entry.status = op.type
        entry.error = op.error
        entry.node = op.node or invoke.node
        entry.ret_line = op.line
        entry.completion_time = op.time
        if op.type == "info":
            retired.add(proc)
            continue
        entry.ret = position
        entry.ret_time = op.time
        entry.result = op.value
    if pending:
        warnings.append(
            f"{len(pending)} invocation(s) never completed; treated as info (outcome unknown)"
        )
    return PairedHistory(out, warnings)
