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
        raise HistoryError("field 'process' must be an integer or a string", line=line, source=source)
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
