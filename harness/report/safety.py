"""Raft safety violations with their evidence: the cited event lines of each node, side
by side, with a few lines of context.

Why side by side: every Raft safety violation is a disagreement between nodes (two
leaders of one term, two entries at one index), so the proof is two or more lines from
different files; reading them next to each other, at their time on the history's axis,
is what makes the violation obvious. The checker cites `path:line` (or
`dump.json#index=N`); the files are looked up inside the run directory, wherever the
check ran.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

CONTEXT_LINES = 2
MAX_VIOLATIONS = 10
MAX_CITED = 6
_CITE = re.compile(r"^(?P<path>.+?)(?::(?P<line>\d+)|#index=(?P<index>\d+))$")


@dataclass
class EventLine:
    number: int
    text: str
    cited: bool


@dataclass
class CitedBlock:
    where: str  # as the checker cited it, shortened to nodes/<node>/<file>:<line>
    lines: list[EventLine]


@dataclass
class NodeColumn:
    node: str
    blocks: list[CitedBlock] = field(default_factory=list)


@dataclass
class SafetyViolation:
    property: str
    message: str
    columns: list[NodeColumn]


def resolve(run_dir: Path, cited_path: str) -> Path | None:
    """The run's own copy of a cited file: `…/nodes/<node>/<file>` under run_dir (the
    check may have run elsewhere, or the store moved). Never a file outside run_dir."""
    parts = Path(cited_path).parts
    if "nodes" in parts:
        last = len(parts) - 1 - parts[::-1].index("nodes")
        relative = Path(*parts[last:])
    elif len(parts) >= 2:
        relative = Path("nodes", parts[-2], parts[-1])
    else:
        return None
    candidate = (run_dir / relative).resolve()
    root = run_dir.resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate


def _event_text(raw: str, t0_wall_ns: int | None) -> str:
    """`12.345 s  role  term=4 role=leader`: the event without its node and raw clock."""
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError:
        return raw.strip()
    if not isinstance(obj, dict):
        return raw.strip()
    t = obj.pop("t", None)
    obj.pop("node", None)
    ev = obj.pop("ev", "?")
    when = ""
    if isinstance(t, int) and t0_wall_ns is not None:
        when = f"{(t - t0_wall_ns) / 1e9:9.3f} s  "
    fields = " ".join(f"{k}={json.dumps(v, default=str)}" for k, v in obj.items())
    return f"{when}{ev:<8} {fields}"


def _read_lines(path: Path, numbers: set[int]) -> dict[int, str]:
    wanted = {n for c in numbers for n in range(c - CONTEXT_LINES, c + CONTEXT_LINES + 1)}
    if not wanted:
        return {}
    out = {}
    with open(path, encoding="utf-8", errors="replace") as stream:
        for number, raw in enumerate(islice(stream, max(wanted)), start=1):
            if number in wanted:
                out[number] = raw
    return out


def _dump_entry(path: Path, index: int) -> str:
    try:
        entries = json.loads(path.read_text(encoding="utf-8")).get("entries", [])
    except (OSError, ValueError, AttributeError):
        return "dump not readable"
    for entry in entries:
        if isinstance(entry, dict) and entry.get("index") == index:
            return f"dump     index={index} term={entry.get('term')} digest={entry.get('digest')}"
    return f"dump     no entry at index {index}"


def _block(run_dir: Path, where: str, t0_wall_ns: int | None) -> tuple[str, CitedBlock] | None:
    match = _CITE.match(where)
    if not match:
        return None
    path = resolve(run_dir, match["path"])
    if path is None:
        return None
    node = path.parent.name
    short = f"nodes/{node}/{path.name}"
    if match["index"] is not None:
        index = int(match["index"])
        line = EventLine(index, _dump_entry(path, index), True)
        return node, CitedBlock(f"{short}#index={index}", [line])
    number = int(match["line"])
    lines = _read_lines(path, {number})
    return node, CitedBlock(
        f"{short}:{number}",
        [
            EventLine(n, _event_text(raw, t0_wall_ns), n == number)
            for n, raw in sorted(lines.items())
        ],
    )


def safety_violations(
    run_dir: Path, results: dict[str, Any], t0_wall_ns: int | None
) -> list[SafetyViolation]:
    """The raft-safety checker's violations, each with its nodes' cited events."""
    entry = results.get("raft-safety")
    if not isinstance(entry, dict):
        return []
    out = []
    for violation in (entry.get("violations") or [])[:MAX_VIOLATIONS]:
        if not isinstance(violation, dict):
            continue
        columns: dict[str, NodeColumn] = {}
        for where in (violation.get("events") or [])[:MAX_CITED]:
            found = _block(run_dir, str(where), t0_wall_ns)
            if found is not None:
                node, block = found
                columns.setdefault(node, NodeColumn(node)).blocks.append(block)
        out.append(
            SafetyViolation(
                str(violation.get("property", "")),
                str(violation.get("message", "")),
                [columns[n] for n in sorted(columns)],
            )
        )
    return out
