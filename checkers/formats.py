"""Importers: read histories recorded by other tools into our `Op`s.

Why here and not in `history.py`: our JSONL is the native format every part of the
harness writes; the formats below exist only so that the checkers can be run on
histories recorded elsewhere (Jepsen, Porcupine's test data). `load_history` sniffs the
format, so a user can point `splitbrain check` at any of them.

Formats:
- our JSONL (`checkers.history.parse_jsonl`);
- Jepsen EDN: op maps `{:process 9, :type :invoke, :f :append, :key "0", :value "x"}`,
  one per line or inside one top-level vector; `jepsen.independent` tuples
  (`:value [k v]` on every client op, no `:key`) are split into key and value;
- Jepsen log lines: `INFO  jepsen.util - 2	:invoke	:cas	[3 0]` (process, type, f,
  value); lines that are not operations are skipped.

The EDN reader is a small one of our own (no dependencies): maps, vectors, lists, sets,
strings, numbers, keywords (read as plain strings without the colon), symbols, nil,
booleans, `;` comments, `#_` discards and tagged literals (the tag is ignored).
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from checkers.history import (
    MAX_NESTING,
    NEMESIS,
    NO_EXTRA,
    OP_TYPES,
    HistoryError,
    Interner,
    Op,
    ReadResult,
    hashable,
    iter_file_lines,
    open_history,
    pair_history,
    parse_jsonl,
    parse_jsonl_lines,
)

FORMATS = ("jsonl", "edn", "jepsen-log")


# --- EDN -------------------------------------------------------------------------------


class EdnError(ValueError):
    """Malformed EDN; `pos` is the character offset, `eof` True if input ended early."""

    def __init__(self, message: str, pos: int, *, eof: bool = False):
        super().__init__(message)
        self.pos = pos
        self.eof = eof


_TOKEN = re.compile(
    r"""
    (?P<ws>[\s,]+|;[^\n]*)
  | (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<open>\#\{|[\[{(])
  | (?P<close>[\]})])
  | (?P<discard>\#_)
  | (?P<tag>\#[A-Za-z][^\s,{}\[\]()";]*)
  | (?P<char>\\(?:newline|space|tab|return|u[0-9a-fA-F]{4}|.))
  | (?P<atom>[^\s,{}\[\]()";\\]+)
    """,
    re.VERBOSE | re.DOTALL,
)
_INT = re.compile(r"[+-]?\d+N?$")
_FLOAT = re.compile(r"[+-]?\d+(\.\d*)?([eE][+-]?\d+)?M?$")
_RATIO = re.compile(r"[+-]?\d+/\d+$")
_CLOSERS = {"[": "]", "(": ")", "{": "}", "#{": "}"}
# EDN's symbolic values: real floats, but no checker can order or sum them.
_NON_FINITE = ("##Inf", "##-Inf", "##NaN")
_CHARS = {"newline": "\n", "space": " ", "tab": "\t", "return": "\r"}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "b": "\b", "f": "\f"}


def _unescape(body: str) -> str:
    if "\\" not in body:
        return body

    def repl(match: re.Match[str]) -> str:
        code = match.group(1)
        if code.startswith("u"):
            return chr(int(code[1:], 16))
        return _ESCAPES.get(code, code)

    return re.sub(r"\\(u[0-9a-fA-F]{4}|.)", repl, body, flags=re.DOTALL)


def _atom(text: str) -> Any:
    """A scalar; ValueError for numbers a history cannot hold (non-finite, too big)."""
    if text == "nil":
        return None
    if text == "true":
        return True
    if text == "false":
        return False
    if text.startswith(":"):
        return text[1:]
    if _INT.match(text):
        return int(text.rstrip("N"))
    if _FLOAT.match(text):
        value = float(text.rstrip("M"))
        if math.isinf(value):
            raise ValueError(f"number {text} is out of range (not a finite float)")
        return value
    if _RATIO.match(text):
        num, den = text.split("/")
        if int(den) == 0:
            raise ValueError(f"ratio {text} divides by zero")
        return int(num) / int(den)
    if text in _NON_FINITE:
        raise ValueError(f"{text} is not a number a history can hold")
    return text  # a symbol


class EdnReader:
    """Reads EDN forms one after another from a string, remembering where each began."""

    def __init__(self, text: str):
        self.text = text
        self.pos = 0
        self.depth = 0  # forms being read inside each other (bounded by MAX_NESTING)

    def _next_token(self) -> tuple[str, str, int] | None:
        while self.pos < len(self.text):
            match = _TOKEN.match(self.text, self.pos)
            if match is None:
                if self.text[self.pos] == '"':
                    raise EdnError("unterminated string", self.pos, eof=True)
                raise EdnError(f"unexpected character {self.text[self.pos]!r}", self.pos)
            start = self.pos
            self.pos = match.end()
            kind = match.lastgroup or ""
            if kind != "ws":
                return kind, match.group(), start
        return None

    def read(self) -> tuple[Any, int] | None:
        """The next top-level form and its start offset, or None at the end of input."""
        token = self._next_token()
        if token is None:
            return None
        return self._form(token), token[2]

    def _form(self, token: tuple[str, str, int]) -> Any:
        """One form; nesting is counted here (collections, tags and discards alike) so
        that `[[[[…` a million deep is an EdnError, not a RecursionError."""
        self.depth += 1
        try:
            if self.depth > MAX_NESTING:
                raise EdnError(f"nested more than {MAX_NESTING} levels deep", token[2])
            return self._form_at_depth(token)
        finally:
            self.depth -= 1

    def _form_at_depth(self, token: tuple[str, str, int]) -> Any:
        kind, text, start = token
        if kind == "str":
            return _unescape(text[1:-1])
        if kind == "atom":
            try:
                return _atom(text)
            except ValueError as exc:
                raise EdnError(str(exc), start) from None
        if kind == "char":
            name = text[1:]
            if name.startswith("u") and len(name) == 5:
                return chr(int(name[1:], 16))
            return _CHARS.get(name, name)
        if kind in ("tag", "discard"):
            inner = self._next_token()
            if inner is None:
                raise EdnError(f"{text} at the end of input", start, eof=True)
            value = self._form(inner)
            if kind == "discard":
                following = self._next_token()
                if following is None:
                    raise EdnError("#_ discarded the last form", start, eof=True)
                return self._form(following)
            return value
        if kind == "close":
            raise EdnError(f"unexpected {text!r}", start)
        items = self._until(_CLOSERS[text], start)
        if text == "{":
            if len(items) % 2:
                raise EdnError("map with an odd number of forms", start)
            return {hashable(items[i]): items[i + 1] for i in range(0, len(items), 2)}
        if text == "#{":
            return [item for item in items]
        return items

    def _until(self, closer: str, start: int) -> list[Any]:
        items: list[Any] = []
        while True:
            token = self._next_token()
            if token is None:
                raise EdnError(f"unclosed {closer!r} opened here", start, eof=True)
            if token[0] == "close":
                if token[1] != closer:
                    raise EdnError(f"expected {closer!r}, found {token[1]!r}", token[2])
                return items
            if token[0] == "discard":
                inner = self._next_token()
                if inner is None:
                    raise EdnError("#_ at the end of input", token[2], eof=True)
                self._form(inner)
                continue
            items.append(self._form(token))


def parse_edn(text: str) -> Any:
    """Parse one EDN form (convenience for tests and small values)."""
    reader = EdnReader(text)
    first = reader.read()
    if first is None:
        raise EdnError("empty input", 0, eof=True)
    if reader.read() is not None:
        raise EdnError("more than one form", reader.pos)
    return first[0]


# --- op maps (EDN) -> Op ------------------------------------------------------------------


def _op_from_map(obj: Any, *, line: int, source: str | None, position: int, intern: Interner) -> Op:
    if not isinstance(obj, dict):
        raise HistoryError(
            "expected an op map {:type ... :f ... :process ...}", line=line, source=source
        )
    for name in ("type", "f", "process"):
        if name not in obj:
            raise HistoryError(f"missing :{name}", line=line, source=source)
    op_type = obj["type"]
    if op_type not in OP_TYPES:
        raise HistoryError(
            f"unknown op type {op_type!r} (expected one of {', '.join(OP_TYPES)})",
            line=line,
            source=source,
        )
    process = obj["process"]
    if isinstance(process, bool) or not isinstance(process, int | str):
        raise HistoryError(":process must be an integer or :nemesis", line=line, source=source)
    known = {"type", "f", "process", "value", "key", "time", "index", "error", "node"}
    time = obj.get("time", position)
    index = obj.get("index", position)
    return Op(
        type=intern(op_type),
        f=intern(str(obj["f"])),
        process=intern(process),
        value=obj.get("value"),
        key=intern(hashable(obj.get("key"))),
        time=int(time) if isinstance(time, int | float) else position,
        index=int(index) if isinstance(index, int) else position,
        error=intern(obj.get("error")),
        node=intern(obj.get("node")) if isinstance(obj.get("node"), str) else None,
        extra={str(k): v for k, v in obj.items() if k not in known and isinstance(k, str)}
        or NO_EXTRA,
        line=line,
    )


def _split_independent(ops: list[Op]) -> bool:
    """Unwrap jepsen.independent `[k v]` values into key and value, if every client op
    has one and none has a key. Why all-or-nothing: a plain cas history also carries
    2-element values, but its read invocations carry nil, so it never qualifies."""
    client = [op for op in ops if op.is_client]
    if not client or any(op.key is not None for op in client):
        return False
    if not all(isinstance(op.value, list) and len(op.value) == 2 for op in client):
        return False
    for op in client:
        op.key, op.value = hashable(op.value[0]), op.value[1]
    return True


def parse_edn_history(text: str, *, source: str | None = None) -> ReadResult:
    """Op maps, one per line or in a top-level vector/list. A form cut short by the end of
    the input on the last line is dropped with a warning (a crash mid-write)."""
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line_of(pos: int) -> int:
        return bisect.bisect_right(line_starts, pos)

    reader = EdnReader(text)
    result = ReadResult(ops=[], format="edn")
    forms: list[tuple[Any, int]] = []
    while True:
        start = reader.pos
        try:
            item = reader.read()
        except EdnError as exc:
            last_line = line_of(len(text.rstrip("\n")))
            begun = _first_non_ws(text, start)
            if exc.eof and line_of(begun) == last_line:
                result.warnings.append(
                    f"{source or 'history'}:{last_line}: truncated last line dropped ({exc})"
                )
                break
            raise HistoryError(
                f"malformed EDN: {exc}", line=line_of(exc.pos), source=source
            ) from exc
        if item is None:
            break
        forms.append((item[0], line_of(item[1])))
    if len(forms) == 1 and isinstance(forms[0][0], list):
        forms = [(op, forms[0][1]) for op in forms[0][0]]
    intern = Interner()
    for position, (obj, line) in enumerate(forms):
        result.ops.append(
            _op_from_map(obj, line=line, source=source, position=position, intern=intern)
        )
    if _split_independent(result.ops):
        result.warnings.append("values read as jepsen.independent [key value] tuples")
    return result


def _first_non_ws(text: str, pos: int) -> int:
    match = re.compile(r"(?:[\s,]+|;[^\n]*)*").match(text, pos)
    return match.end() if match else pos


# --- Jepsen log lines ------------------------------------------------------------------

_LOG_LINE = re.compile(
    r"jepsen\.util\s+-\s+(?P<process>:?[\w-]+)\s+:(?P<type>[\w-]+)\s+:(?P<f>[\w?!*+./-]+)(?:\s+(?P<value>.*?))?\s*$"
)


def parse_jepsen_log(text: str, *, source: str | None = None) -> ReadResult:
    """Jepsen's `jepsen.util` log lines (as in Porcupine's etcd test data)."""
    result = ReadResult(ops=[], format="jepsen-log")
    skipped = 0
    lines = text.splitlines()
    for number, raw in enumerate(lines, start=1):
        match = _LOG_LINE.search(raw)
        if match is None:
            if raw.strip():
                skipped += 1
            continue
        process_text = match["process"].lstrip(":")
        process: int | str = int(process_text) if process_text.isdigit() else process_text
        op_type = match["type"]
        if op_type not in OP_TYPES:
            raise HistoryError(
                f"unknown op type {op_type!r} (expected one of {', '.join(OP_TYPES)})",
                line=number,
                source=source,
            )
        value_text = match["value"] or "nil"
        try:
            value = parse_edn(value_text)
        except EdnError as exc:
            if number == len(lines) and not text.endswith("\n") and exc.eof:
                result.warnings.append(
                    f"{source or 'history'}:{number}: truncated last line dropped ({exc})"
                )
                break
            raise HistoryError(
                f"bad value {value_text!r}: {exc}", line=number, source=source
            ) from exc
        position = len(result.ops)
        result.ops.append(
            Op(
                type=op_type,
                f=match["f"],
                process=NEMESIS if process == NEMESIS else process,
                value=value,
                time=position,
                index=position,
                line=number,
            )
        )
    if skipped:
        result.warnings.append(f"{skipped} line(s) that are not operations skipped")
    return result


# --- detection -------------------------------------------------------------------------


def detect_format(text: str) -> str:
    """Which of FORMATS the text looks like, judged by its first meaningful line."""
    found = _format_of_line(text.splitlines())
    if found is not None:
        return found
    if "jepsen.util" in text:
        return "jepsen-log"
    raise HistoryError(
        "cannot tell the history format (expected JSONL, EDN op maps or Jepsen log lines)"
    )


def _format_of_line(lines: Iterable[str]) -> str | None:
    """The format the first meaningful line shows; None if no line decides it."""
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith(";"):
            continue
        if "jepsen.util" in line and _LOG_LINE.search(line):
            return "jepsen-log"
        if line.startswith('{"') or line.startswith('{ "'):
            return "jsonl"
        if line[0] in "{[(#":
            try:
                json.loads(line)
                return "jsonl"
            except (json.JSONDecodeError, RecursionError):
                return "edn"
    return None


def parse_history(
    text: str, *, fmt: str | None = None, source: str | None = None, validate: bool = True
) -> ReadResult:
    """Parse a history in any supported format (sniffed unless `fmt` is given). With
    `validate`, invocations and completions are paired up front so that a completion
    without an invocation is reported here, with its line."""
    if fmt is None:
        try:
            fmt = detect_format(text)
        except HistoryError as exc:
            raise HistoryError(str(exc), source=source) from None
    if fmt == "jsonl":
        result = parse_jsonl(text, source=source)
    elif fmt == "edn":
        result = parse_edn_history(text, source=source)
    elif fmt == "jepsen-log":
        result = parse_jepsen_log(text, source=source)
    else:
        raise HistoryError(f"unknown format {fmt!r} (expected one of {', '.join(FORMATS)})")
    if validate:
        result.warnings.extend(pair_history(result.ops, source=source).warnings)
    return result


def _sniff(lines: Iterator[tuple[int, str]], source: str) -> tuple[str, list[tuple[int, str]]]:
    """Read lines until one decides the format: (format, the lines read so far)."""
    head: list[tuple[int, str]] = []
    for number, raw in lines:
        head.append((number, raw))
        found = _format_of_line([raw])
        if found is not None:
            return found, head
    if any("jepsen.util" in r for _, r in head):
        return "jepsen-log", head
    raise HistoryError(
        "cannot tell the history format (expected JSONL, EDN op maps or Jepsen log lines)",
        source=source,
    )


def load_history(path: str | Path, *, fmt: str | None = None, validate: bool = True) -> ReadResult:
    """Read a history file of any supported format. Raises HistoryError (one line, with
    file and line number) for unreadable or malformed input.

    Our JSONL is streamed line by line into compact ops (a 100 MB history is never held
    as text); EDN and Jepsen logs, whose forms may span lines, are read as a whole. Any
    file works, also a pipe (`<(zcat h.jsonl.gz)`): it is read exactly once."""
    source = str(path)
    with open_history(path) as stream:
        lines = iter_file_lines(stream, source=source)
        head: list[tuple[int, str]] = []
        if fmt is None:
            fmt, head = _sniff(lines, source)
        everything = itertools.chain(head, lines)
        if fmt == "jsonl":
            result = parse_jsonl_lines(everything, source=source)
        else:
            text = "".join(raw for _, raw in everything)
            result = parse_history(text, fmt=fmt, source=source, validate=False)
    if validate:
        result.warnings.extend(pair_history(result.ops, source=source).warnings)
    return result
