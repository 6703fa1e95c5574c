"""Builders for hand-made histories and node event logs used by the safety tests."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from checkers.history import Op


def digest(command: Any) -> str:
    """The digest raftnode writes (docs/interfaces.md §3)."""
    raw = json.dumps(command, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


class History:
    """Appends ops in order with a strictly increasing time (1 ms steps)."""

    def __init__(self) -> None:
        self.ops: list[Op] = []

    def _add(
        self, type_: str, process: int | str, f: str, value: Any, key: Any, extra: dict
    ) -> None:
        self.ops.append(
            Op(
                type=type_,
                f=f,
                process=process,
                value=value,
                key=key,
                time=(len(self.ops) + 1) * 1_000_000,
                index=len(self.ops),
                error=extra.pop("error", None),
                extra=extra,
            )
        )

    def invoke(
        self, process: int, f: str, value: Any = None, key: Any = None, **extra: Any
    ) -> History:
        self._add("invoke", process, f, value, key, extra)
        return self

    def complete(
        self, type_: str, process: int, f: str, value: Any = None, key: Any = None, **extra: Any
    ) -> History:
        self._add(type_, process, f, value, key, extra)
        return self

    def op(
        self,
        process: int,
        f: str,
        value: Any = None,
        *,
        result: Any = "same",
        status: str = "ok",
        key: Any = None,
        **extra: Any,
    ) -> History:
        """An invocation immediately followed by its completion."""
        self.invoke(process, f, value, key, **{k: v for k, v in extra.items() if k != "error"})
        out = value if result == "same" else result
        self.complete(status, process, f, out, key, **extra)
        return self

    def nemesis(self, f: str, value: Any = None) -> History:
        self._add("info", "nemesis", f, value, None, {})
        return self


class EventLog:
    """Per-node event lines; `write` lays them out as a store's nodes/ directory."""

    def __init__(self) -> None:
        self.lines: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.clock = 1_700_000_000_000_000_000

    def add(self, node: str, term: int, ev: str, **fields: Any) -> int:
        """Add one event; returns its 1-based line number in the node's file."""
        self.clock += 1000
        fields = {k.rstrip("_"): v for k, v in fields.items()}
        self.lines[node].append({"t": self.clock, "node": node, "term": term, "ev": ev, **fields})
        return len(self.lines[node])

    def append(self, node: str, term: int, index: int, entry_term: int, command: Any) -> int:
        return self.add(
            node, term, "append", index=index, entry_term=entry_term, digest=digest(command)
        )

    def apply(self, node: str, term: int, index: int, entry_term: int, command: Any) -> int:
        return self.add(
            node, term, "apply", index=index, entry_term=entry_term, digest=digest(command)
        )

    def write(self, root: Path, *, torn: dict[str, str] | None = None) -> Path:
        """Write nodes/<node>/events.jsonl under root; `torn` appends a partial last line."""
        nodes = root / "nodes"
        for node, events in self.lines.items():
            (nodes / node).mkdir(parents=True, exist_ok=True)
            text = "".join(json.dumps(e) + "\n" for e in events)
            if torn and node in torn:
                text += torn[node]
            (nodes / node / "events.jsonl").write_text(text)
        return nodes


def cmd(n: int) -> dict[str, Any]:
    return {"op": "write", "key": "k", "value": n}


def clean_cluster() -> EventLog:
    """A correct 3-node run: n1 leads term 1 and commits 1..2, appends 3 alone and
    crashes; n2 leads term 2, overwrites 3, commits it and snapshots; n1 restarts,
    truncates its uncommitted 3 and catches up."""
    log = EventLog()
    for node in ("n1", "n2", "n3"):
        log.add(node, 0, "start", last_index=0, commit=0)
    log.add("n2", 1, "vote", for_="n1")
    log.add("n3", 1, "vote", for_="n1")
    log.add("n1", 1, "role", role="leader")
    log.add("n2", 1, "role", role="follower")
    log.add("n3", 1, "role", role="follower")
    for node in ("n1", "n2", "n3"):
        log.append(node, 1, 1, 1, None)
        log.append(node, 1, 2, 1, cmd(1))
    for node in ("n1", "n2", "n3"):
        log.add(node, 1, "commit", index=2)
        log.apply(node, 1, 1, 1, None)
        log.apply(node, 1, 2, 1, cmd(1))
    log.append("n1", 1, 3, 1, cmd(2))  # never replicated: n1 crashes now
    log.add("n3", 2, "vote", for_="n2")
    log.add("n2", 2, "role", role="candidate")
    log.add("n2", 2, "role", role="leader")
    for node in ("n2", "n3"):
        log.append(node, 2, 3, 2, None)
        log.append(node, 2, 4, 2, cmd(3))
    for node in ("n2", "n3"):
        log.add(node, 2, "commit", index=4)
        log.apply(node, 2, 3, 2, None)
        log.apply(node, 2, 4, 2, cmd(3))
    log.add("n2", 2, "snapshot", index=4, entry_term=2)
    log.add("n1", 0, "start", last_index=3, commit=2)
    log.add("n1", 2, "role", role="follower")
    log.add("n1", 2, "truncate", from_index=3)
    log.append("n1", 2, 3, 2, None)
    log.append("n1", 2, 4, 2, cmd(3))
    log.add("n1", 2, "commit", index=4)
    log.apply("n1", 2, 3, 2, None)
    log.apply("n1", 2, 4, 2, cmd(3))
    return log


def final_dump(entries: list[tuple[int, int, Any]], *, term: int, commit: int) -> dict[str, Any]:
    """A dump in `python -m raftnode dump --json` format."""
    return {
        "hard_state": {"term": term, "voted_for": None, "commit": commit},
        "snapshot": None,
        "entries": [
            {"index": i, "term": t, "digest": digest(c), "command": c} for i, t, c in entries
        ],
    }
