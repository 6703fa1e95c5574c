"""Reading node events and dumps: bad lines are skipped with a warning naming file:line."""

from __future__ import annotations

import json

import pytest

from checkers.events import EventsError, has_evidence, load_evidence, parse_dump, parse_events


def test_parse_events_keeps_lines_and_defaults_node():
    text = '{"term": 1, "ev": "role", "role": "leader"}\n\n{"node": "n9", "term": 2, "ev": "commit", "index": 3}\n'
    events = parse_events(text, node="n1", source="f")
    assert [(e.node, e.ev, e.line) for e in events] == [("n1", "role", 1), ("n9", "commit", 3)]
    assert events[1].where == "f:3"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"ev": "teleport", "term": 1}', "unknown event kind"),
        ('{"ev": "append", "term": 1, "index": 2}', "without 'entry_term'"),
        ('{"ev": "commit", "term": 1, "index": "7"}', "must be an integer"),
        ('{"ev": "commit", "term": "x", "index": 7}', "'term' must be an integer"),
        ("[1, 2]", "expected a JSON object"),
        ("{not json", "invalid JSON"),
    ],
)
def test_bad_middle_line_skipped_with_reason(line, reason):
    text = '{"ev": "start", "term": 0}\n' + line + '\n{"ev": "commit", "term": 1, "index": 1}\n'
    warnings: list[str] = []
    events = parse_events(text, node="n1", source="ev.jsonl", warnings=warnings)
    assert [e.ev for e in events] == ["start", "commit"]
    assert len(warnings) == 1 and warnings[0].startswith("ev.jsonl:2:") and reason in warnings[0]


def test_torn_tail_warning_says_truncated():
    warnings: list[str] = []
    events = parse_events(
        '{"ev": "start", "term": 0}\n{"ev": "com', node="n1", source="e", warnings=warnings
    )
    assert (
        len(events) == 1 and warnings == [warnings[0]] and "e:2: truncated last line" in warnings[0]
    )


def test_parse_dump_and_errors():
    dump = parse_dump(
        {
            "hard_state": {"term": 3, "commit": 2},
            "snapshot": {"index": 1, "term": 1},
            "entries": [
                {"index": 3, "term": 2, "digest": "c"},
                {"index": 2, "term": 1, "digest": "b"},
            ],
        },
        node="n1",
        source="d",
    )
    assert (dump.term, dump.commit, dump.snapshot_index) == (3, 2, 1)
    assert [e.index for e in dump.entries] == [2, 3]
    with pytest.raises(ValueError):
        parse_dump({"entries": [{"term": 1}]}, node="n1", source="d")


def test_unreadable_dump_is_a_warning_and_missing_dir_an_error(tmp_path):
    node = tmp_path / "nodes" / "n1"
    node.mkdir(parents=True)
    (node / "events.jsonl").write_text(json.dumps({"ev": "start", "term": 0}) + "\n")
    (node / "dump.json").write_text("{broken")
    evidence = load_evidence(tmp_path)
    assert list(evidence.events) == ["n1"] and not evidence.dumps
    assert any("unreadable dump" in w for w in evidence.warnings)
    assert has_evidence(tmp_path) and not has_evidence(tmp_path / "absent")
    with pytest.raises(EventsError):
        load_evidence(tmp_path / "absent")


def test_torn_line_joined_with_next_event_is_salvaged():
    """A node killed mid-write, restarted: its next event lands on the torn line."""
    text = (
        '{"ev": "commit", "term": 1, "index": 1}\n'
        '{"ev": "append", "term": 1, "ind{"ev": "start", "term": 1, "last_index": 0}\n'
        '{"ev": "commit", "term": 1, "index": 2}\n'
    )
    warnings: list[str] = []
    events = parse_events(text, node="n1", source="e", warnings=warnings)
    assert [(e.ev, e.line) for e in events] == [("commit", 1), ("start", 2), ("commit", 3)]
    assert warnings == ["e:2: torn event joined with the next one; kept the next"]
