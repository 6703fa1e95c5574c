"""Reading raftnode's node evidence: `events.jsonl` files and final log dumps.

The Raft safety checker works from what each node said it did (docs/interfaces.md §3).
Event files are appended while nodes crash, so a torn last line is expected and only
warned about; a malformed line elsewhere is skipped with a warning too, because the
remaining evidence is still worth checking. Every event keeps its file and line so a
violation can point at the exact lines that prove it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from checkers.history import MAX_LINE_BYTES, decode_json_line

EVENTS_FILE = "events.jsonl"
DUMP_FILE = "dump.json"
EVENT_KINDS = frozenset(
    ("role", "vote", "append", "truncate", "commit", "apply", "snapshot", "start")
)
# Fields an event kind needs (besides "ev"), with the type they must have.
_REQUIRED: dict[str, tuple[str, ...]] = {
    "role": ("role",),
    "vote": (),
    "append": ("index", "entry_term"),
    "truncate": ("from_index",),
    "commit": ("index",),
    "apply": ("index",),
    "snapshot": ("index",),
    "start": (),
}
_INT_FIELDS = ("index", "entry_term", "from_index", "last_index", "commit")


class EventsError(ValueError):
    """Evidence that cannot be read at all (missing directory, unreadable dump)."""


@dataclass(slots=True)
class Event:
    """One node event; `where` ("file:line") is what violation reports cite."""

    node: str
    ev: str
    term: int
    t: int
    data: dict[str, Any]
    source: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"

    def get(self, name: str, default: Any = None) -> Any:
        return self.data.get(name, default)


@dataclass(frozen=True)
class DumpEntry:
    index: int
    term: int
    digest: str | None


@dataclass
class NodeDump:
    """A node's final durable state as `python -m raftnode dump --json` prints it."""

    node: str
    source: str
    term: int = 0
    commit: int = 0
    snapshot_index: int = 0
    snapshot_term: int = 0
    entries: list[DumpEntry] = field(default_factory=list)


@dataclass
class Evidence:
    """What was found for one cluster: each node's event files (read lazily, in file
    order, by `iter_node_events`) and its final dump. Warnings about unreadable lines
    accumulate in `warnings` as the events are read."""

    files: dict[str, list[Path]] = field(default_factory=dict)
    dumps: dict[str, NodeDump] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def nodes(self) -> list[str]:
        return sorted(set(self.files) | set(self.dumps))

    def iter_node_events(self, node: str) -> Iterator[Event]:
        for path in self.files.get(node, []):
            yield from iter_events(path, node=node, warnings=self.warnings)

    @property
    def events(self) -> dict[str, list[Event]]:
        """Every node's events as lists (convenient for small inputs and tests)."""
        return {node: list(self.iter_node_events(node)) for node in sorted(self.files)}

    @property
    def empty(self) -> bool:
        return not self.files and not self.dumps


def _parse_event(obj: Any, *, fallback_node: str, source: str, line: int) -> Event:
    """Validate one decoded line; raises ValueError with a short reason."""
    if not isinstance(obj, dict):
        raise ValueError("expected a JSON object")
    ev = obj.get("ev")
    if ev not in EVENT_KINDS:
        raise ValueError(f"unknown event kind {ev!r}")
    for name in _REQUIRED[ev]:
        if name not in obj:
            raise ValueError(f"{ev} event without {name!r}")
    for name in _INT_FIELDS:
        value = obj.get(name)
        if value is not None and type(value) is not int:  # bool is not an index either
            raise ValueError(f"field {name!r} must be an integer")
    term = obj.get("term", 0)
    if type(term) is not int:
        raise ValueError("field 'term' must be an integer")
    node = obj.get("node", fallback_node)
    t = obj.get("t", 0)
    return Event(str(node), ev, term, t if type(t) is int else 0, obj, source, line)


def iter_parse_events(
    lines: Iterable[str], *, node: str, source: str, warnings: list[str]
) -> Iterator[Event]:
    """Parse events.jsonl lines lazily (a long test's files need not fit in memory
    twice). Bad lines are skipped and described in `warnings`; a bad *last* line without
    its newline is reported as truncated (a crash mid-write)."""
    pending: tuple[int, str] | None = None  # the previous line, judged once we know it is not last
    for number, raw in enumerate(lines, start=1):
        if pending is not None:
            yield from _parse_line(
                *pending, node=node, source=source, warnings=warnings, last=False
            )
            pending = None
        if raw.strip():
            pending = (number, raw)
    if pending is not None:
        yield from _parse_line(*pending, node=node, source=source, warnings=warnings, last=True)


def _salvage(raw: str) -> Any:
    """A node killed mid-write leaves a torn line; after a restart the next event is
    appended to it on the same line. Returns the object that starts later in the line
    and parses, or None."""
    pos = raw.find('{"', 1)
    while pos != -1:
        try:
            return decode_json_line(raw[pos:])
        except ValueError:
            pos = raw.find('{"', pos + 1)
    return None


def _reason(exc: ValueError) -> str:
    return exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)


def _parse_line(
    number: int, raw: str, *, node: str, source: str, warnings: list[str], last: bool
) -> Iterator[Event]:
    try:
        obj = decode_json_line(raw)  # also refuses NaN, 1e400 and [[[[… (ValueError)
    except ValueError as exc:
        obj = _salvage(raw)
        if obj is not None:
            warnings.append(
                f"{source}:{number}: torn event joined with the next one; kept the next"
            )
        elif last and not raw.endswith("\n"):
            warnings.append(f"{source}:{number}: truncated last line dropped ({_reason(exc)})")
            return
        else:
            warnings.append(f"{source}:{number}: invalid JSON skipped ({_reason(exc)})")
            return
    try:
        yield _parse_event(obj, fallback_node=node, source=source, line=number)
    except ValueError as exc:
        warnings.append(f"{source}:{number}: event skipped ({exc})")


def parse_events(
    text: str, *, node: str, source: str, warnings: list[str] | None = None
) -> list[Event]:
    """Parse a whole events.jsonl text (see iter_parse_events)."""
    sink = warnings if warnings is not None else []
    lines = text.splitlines(keepends=True)
    return list(iter_parse_events(lines, node=node, source=source, warnings=sink))


def iter_events(path: Path, *, node: str | None = None, warnings: list[str]) -> Iterator[Event]:
    """Stream one events.jsonl; the node name defaults to its directory's name."""
    fallback = node or path.parent.name
    try:
        stream = open(path, encoding="utf-8", errors="replace")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise EventsError(f"{path}: cannot read ({exc.strerror})") from exc
    with stream:
        lines = _bounded_lines(stream, source=str(path), warnings=warnings)
        yield from iter_parse_events(lines, node=fallback, source=str(path), warnings=warnings)


def _bounded_lines(stream: IO[str], *, source: str, warnings: list[str]) -> Iterator[str]:
    """The stream's lines, a line longer than MAX_LINE_BYTES characters skipped with a
    warning (and never held whole: a node's events file is not trusted input either).
    A skipped line still counts, so line numbers stay right."""
    number = 0
    while True:
        raw = stream.readline(MAX_LINE_BYTES)
        if not raw:
            return
        number += 1
        if len(raw) >= MAX_LINE_BYTES and not raw.endswith("\n"):
            while raw and not raw.endswith("\n"):
                raw = stream.readline(MAX_LINE_BYTES)
            warnings.append(
                f"{source}:{number}: line longer than {MAX_LINE_BYTES // 2**20} MiB skipped"
            )
            yield "\n"  # a blank line in its place
            continue
        yield raw


def read_events(
    path: Path, *, node: str | None = None, warnings: list[str] | None = None
) -> list[Event]:
    """Read one events.jsonl into a list."""
    sink = warnings if warnings is not None else []
    return list(iter_events(path, node=node, warnings=sink))


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def parse_dump(obj: Any, *, node: str, source: str) -> NodeDump:
    """Turn a decoded dump (docs/interfaces.md §3) into a NodeDump; ValueError if malformed."""
    if not isinstance(obj, dict) or not isinstance(obj.get("entries", []), list):
        raise ValueError("expected an object with an 'entries' list")
    hard = obj.get("hard_state") or {}
    snap = obj.get("snapshot") or {}
    dump = NodeDump(
        node=str(obj.get("id") or obj.get("node") or node),
        source=source,
        term=_int(hard.get("term")),
        commit=_int(hard.get("commit")),
        snapshot_index=_int(snap.get("index")),
        snapshot_term=_int(snap.get("term")),
    )
    for entry in obj.get("entries", []):
        if not isinstance(entry, dict) or not isinstance(entry.get("index"), int):
            raise ValueError("an entry without an integer 'index'")
        dump.entries.append(
            DumpEntry(
                index=entry["index"], term=_int(entry.get("term")), digest=entry.get("digest")
            )
        )
    dump.entries.sort(key=lambda e: e.index)
    return dump


def read_dump(path: Path, *, node: str | None = None) -> NodeDump:
    try:
        obj = decode_json_line(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # ValueError: also bad UTF-8, NaN, [[[[…
        raise EventsError(f"{path}: unreadable dump ({exc})") from exc
    try:
        return parse_dump(obj, node=node or path.parent.name, source=str(path))
    except ValueError as exc:
        raise EventsError(f"{path}: bad dump ({exc})") from exc


def _node_dirs(root: Path) -> list[Path]:
    """Directories that hold one node's files, for the layouts we accept:
    <root>/events.jsonl, <root>/<node>/events.jsonl and <root>/nodes/<node>/events.jsonl."""
    if (root / EVENTS_FILE).is_file() or (root / DUMP_FILE).is_file():
        return [root]
    base = root / "nodes" if (root / "nodes").is_dir() else root
    return sorted(
        d
        for d in base.iterdir()
        if d.is_dir() and ((d / EVENTS_FILE).is_file() or (d / DUMP_FILE).is_file())
    )


def _peek_node(path: Path) -> str | None:
    """The node named by the first event of a file (files are per node)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as stream:
            for raw in _bounded_lines(stream, source=str(path), warnings=[]):
                if raw.strip():
                    obj = decode_json_line(raw)
                    node = obj.get("node") if isinstance(obj, dict) else None
                    return str(node) if node is not None else None
    except (OSError, ValueError):
        return None
    return None


def load_evidence(root: str | Path) -> Evidence:
    """Find every node's events and dump under `root` (a store dir, its `nodes/` dir, or
    one node's dir). Events are read later, lazily. A missing root is an EventsError;
    an unreadable dump is a warning."""
    root = Path(root)
    if not root.is_dir():
        raise EventsError(f"{root}: not a directory")
    evidence = Evidence()
    for node_dir in _node_dirs(root):
        events_path = node_dir / EVENTS_FILE
        node_name = node_dir.name
        if events_path.is_file():
            node_name = _peek_node(events_path) or node_name
            evidence.files.setdefault(node_name, []).append(events_path)
        dump_path = node_dir / DUMP_FILE
        if dump_path.is_file():
            try:
                dump = read_dump(dump_path, node=node_name)
            except EventsError as exc:
                evidence.warnings.append(str(exc))
            else:
                evidence.dumps[dump.node] = dump
    return evidence


def has_evidence(root: str | Path) -> bool:
    """True if `root` holds any node event file or dump (cheap: no parsing)."""
    root = Path(root)
    return root.is_dir() and bool(_node_dirs(root))
