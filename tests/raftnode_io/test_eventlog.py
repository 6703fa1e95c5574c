"""events.jsonl: stamped lines, appended across restarts, a torn last line cut on open."""

from __future__ import annotations

import json
from pathlib import Path

from raftnode.eventlog import EventLog


def test_lines_are_stamped_and_appended(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    ev = EventLog(path, "n2")
    ev.write(
        [
            {"term": 1, "ev": "role", "role": "leader", "t": 5},
            {"term": 1, "ev": "commit", "index": 3},
        ]
    )
    ev.close()
    ev = EventLog(path, "n2")
    ev.write([{"term": 2, "ev": "start", "last_index": 3, "commit": 3}])
    ev.close()
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [x["ev"] for x in lines] == ["role", "commit", "start"]
    assert all(x["node"] == "n2" and x["t"] > 10**18 for x in lines)  # runtime clock, not 5
    assert lines[0]["t"] == lines[1]["t"]  # one batch, one stamp


def test_torn_last_line_is_cut(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"t":1,"node":"n1","ev":"start"}\n{"t":2,"node":"n1","ev":"app')
    ev = EventLog(path, "n1")
    ev.write([{"term": 1, "ev": "commit", "index": 1}])
    ev.close()
    lines = [json.loads(x) for x in path.read_text().splitlines()]  # every line parses
    assert [x["ev"] for x in lines] == ["start", "commit"]
    path.write_text('{"torn')  # nothing complete at all
    EventLog(path, "n1").close()
    assert path.read_text() == ""
