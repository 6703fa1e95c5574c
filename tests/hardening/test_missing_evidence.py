"""Issue 11 item 6: missing evidence must not read as "valid".

All-garbage node evidence used to give "all five Raft safety properties hold" over 0
events, a broken test.yaml was ignored without a word, and warnings were printed only
with --json. Now: no usable evidence is `unknown` with the reason, the bad lines are
named in warnings, and the human summary prints them.
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from checkers.cli import check_command
from checkers.composite import summary_text
from checkers.history import write_jsonl
from tests.checkers_safety.builders import History, clean_cluster


def _store(tmp_path: Path, *, spec: str = "workload: set\n") -> Path:
    store = tmp_path / "run"
    store.mkdir()
    ops = History().op(0, "add", 1).op(1, "add", 2).op(0, "read", result=[1, 2], final=True)
    write_jsonl(store / "history.jsonl", ops.ops)
    (store / "test.yaml").write_text(spec, encoding="utf-8")
    return store


def _check(*args: object):
    return CliRunner().invoke(check_command, [str(a) for a in args])


def _raft_line(output: str) -> str:
    (line,) = [line for line in output.splitlines() if line.strip().startswith("raft-safety")]
    return line


def test_all_garbage_events_are_unknown_not_valid(tmp_path):
    store = _store(tmp_path)
    for node in ("n1", "n2", "n3"):
        (store / "nodes" / node).mkdir(parents=True)
        (store / "nodes" / node / "events.jsonl").write_text("garbage\n{not json\n[1, 2]\n")
    result = _check(store)
    assert result.exit_code == 2, result.output
    assert "verdict: unknown" in result.output
    assert "unknown  no usable node evidence: 3 event file(s) without one readable event" in (
        _raft_line(result.output)
    )
    # every unreadable line is named, in the human summary (not only with --json)
    events = store / "nodes" / "n1" / "events.jsonl"
    assert f"warning: [raft-safety] {events}:1: invalid JSON skipped" in result.output
    assert f"warning: [raft-safety] {events}:3: event skipped (expected a JSON object)" in (
        result.output
    )
    assert "more warnings (see results.json)" in result.output


def test_garbage_dump_alone_is_unknown(tmp_path):
    store = _store(tmp_path)
    (store / "nodes" / "n1").mkdir(parents=True)
    (store / "nodes" / "n1" / "dump.json").write_text("{truncated")
    result = _check(store)
    assert result.exit_code == 2, result.output
    assert "no usable node evidence" in _raft_line(result.output)
    assert f"warning: [raft-safety] {store}/nodes/n1/dump.json: unreadable dump" in result.output


def test_partly_garbage_events_are_checked_with_the_bad_lines_named(tmp_path):
    store = _store(tmp_path)
    clean_cluster().write(store)
    n2 = store / "nodes" / "n2" / "events.jsonl"
    n2.write_text(n2.read_text() + "garbage in the middle\n" + '{"ev": "role"}\n')
    (store / "nodes" / "n4").mkdir()
    (store / "nodes" / "n4" / "events.jsonl").write_text("nothing readable\n")
    result = _check(store)
    assert result.exit_code == 0, result.output
    assert "all five Raft safety properties hold" in _raft_line(result.output)
    lines = n2.read_text().splitlines()
    assert f"warning: [raft-safety] {n2}:{len(lines) - 1}: invalid JSON skipped" in result.output
    assert f"warning: [raft-safety] {n2}:{len(lines)}: event skipped" in result.output
    assert "n4: no readable event in" in result.output and "this node is not checked" in (
        result.output
    )


def test_broken_test_yaml_is_a_warning_not_silence(tmp_path):
    store = _store(tmp_path, spec="workload: [set\n")
    result = _check(store)
    assert result.exit_code == 0, result.output
    assert (
        f"warning: {store}/test.yaml: unreadable (invalid YAML at line 2: expected ',' or ']', "
        "but got '<stream end>'); workload inferred from the ops"
    ) in result.output


def test_test_yaml_with_an_unknown_workload_is_a_warning(tmp_path):
    store = _store(tmp_path, spec="workload: sets\n")
    result = _check(store)
    assert (
        f"warning: {store}/test.yaml: workload 'sets' is not one of kv+append, register, kv, "
        "set, append, counter, bank; workload inferred from the ops"
    ) in result.output


def test_summary_prints_checker_warnings():
    results = {
        "valid": True,
        "checkers": ["raft-safety"],
        "raft-safety": {"valid": True, "summary": "ok", "warnings": ["n1/events.jsonl:7: bad"]},
        "warnings": ["history warning"],
    }
    text = summary_text(results)
    assert "  warning: history warning" in text
    assert "  warning: [raft-safety] n1/events.jsonl:7: bad" in text


def test_hostile_event_lines_are_skipped_with_warnings(tmp_path, monkeypatch):
    """Deep nesting, NaN and an endless line in a node's events: warnings, no crash."""
    from checkers import events

    monkeypatch.setattr(events, "MAX_LINE_BYTES", 1000)
    store = _store(tmp_path)
    clean_cluster().write(store)
    n3 = store / "nodes" / "n3" / "events.jsonl"
    good = n3.read_text()
    hostile = "[" * 400 + "]" * 400 + "\n" + '{"ev": "commit", "index": NaN}\n' + "x" * 5000 + "\n"
    n3.write_text(hostile + good)
    result = _check(store)
    assert result.exit_code == 0, result.output
    assert "all five Raft safety properties hold" in _raft_line(result.output)
    assert f"{n3}:1: invalid JSON skipped (nested more than 100 levels deep)" in result.output
    assert f"{n3}:2: invalid JSON skipped (NaN is not a number a history can hold)" in result.output
    assert f"{n3}:3: line longer than 0 MiB skipped" in result.output
