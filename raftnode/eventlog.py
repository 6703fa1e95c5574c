"""events.jsonl: the node's Raft events for the checkers (docs/interfaces.md §3).

Append-only: each batch of events is one `os.write` on an O_APPEND descriptor, so a kill -9
leaves whole lines (the kernel copies a regular-file write in one piece). A line torn anyway
(a full disk, a power cut) is cut off when the node starts again, so a restarted node never
glues its first event onto half a line; that is the only rewrite ever made.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("raftnode.events")


def _cut_torn_line(path: Path) -> None:
    """Truncate a last line that lacks its newline (left by a crash mid-write)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    if size == 0:
        return
    with open(path, "rb+") as f:
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return
        # find the end of the last complete line
        pos, keep = size, 0
        while pos > 0:
            step = min(65536, pos)
            pos -= step
            f.seek(pos)
            chunk = f.read(step)
            nl = chunk.rfind(b"\n")
            if nl >= 0:
                keep = pos + nl + 1
                break
        f.truncate(keep)
    log.warning("%s: cut a torn last line (%d bytes)", path, size - keep)


class EventLog:
    """Writes event dicts as JSON lines, stamped with the runtime's clock and the node id."""

    def __init__(self, path: Path, node_id: str) -> None:
        self.path = path
        self.node_id = node_id
        self._encode = json.JSONEncoder(separators=(",", ":"), default=str).encode
        _cut_torn_line(path)
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def write(self, events: list[dict[str, Any]]) -> None:
        if not events or self._fd is None:
            return
        now = time.time_ns()
        # CLOCK_MONOTONIC: the clock nemesis moves only the wall clock (libfaketime with
        # FAKETIME_DONT_FAKE_MONOTONIC=1), and local/netns nodes share the controller's
        # kernel clock, so "mono" places an event in test time even under clock skew.
        mono = time.monotonic_ns()
        lines = []
        for ev in events:
            rec = {"t": now, "mono": mono, "node": self.node_id, **ev}
            rec["t"] = now  # the runtime's clock, whatever the core put there
            rec["mono"] = mono
            lines.append(self._encode(rec))
        data = ("\n".join(lines) + "\n").encode()
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
