"""`splitbrain check` exit codes: 0 valid, 1 invalid, 2 unknown or unreadable input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from checkers.cli import check_command
from checkers.history import write_jsonl
from tests.checkers_safety.builders import History, clean_cluster

PORCUPINE = Path(__file__).resolve().parents[3] / "shared" / "data" / "porcupine"
if not PORCUPINE.is_dir():
    PORCUPINE = Path("/work/shared/data/porcupine")


def _invoke(*args: str):
    return CliRunner().invoke(check_command, [str(a) for a in args])


def _set_file(path: Path, *, lost: bool) -> Path:
    h = History().op(0, "add", 1).op(1, "add", 2).op(0, "read", result=[2] if lost else [1, 2])
    write_jsonl(path, h.ops)
    return path


def test_valid_history_file_exits_0(tmp_path):
    result = _invoke(_set_file(tmp_path / "h.jsonl", lost=False))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("verdict: valid") and "set" in result.output


def test_invalid_history_file_exits_1(tmp_path):
    result = _invoke(_set_file(tmp_path / "h.jsonl", lost=True), "--workload", "set")
    assert result.exit_code == 1
    assert "verdict: INVALID" in result.output and "lost" in result.output


def test_unknown_verdict_exits_2(tmp_path):
    path = tmp_path / "h.jsonl"
    write_jsonl(path, History().op(0, "incr", 1).ops)
    result = _invoke(path, "--workload", "counter")
    assert result.exit_code == 2 and "verdict: unknown" in result.output


def test_truncated_tail_is_dropped_and_each_warning_said_once(tmp_path):
    path = tmp_path / "h.jsonl"
    path.write_text(
        '{"index":0,"time":1,"process":0,"type":"invoke","f":"write","key":"r","value":1}\n'
        '{"index":1,"time":2,"process":0,"type":"ok","f":"write","key":"r","value":1}\n'
        '{"index":2,"time":3,"process":1,"type":"invoke","f":"read","key":"r","value":null}\n'
        '{"index":3,"ti'
    )
    result = _invoke(path, "--workload", "register")
    assert result.exit_code == 0, result.output
    assert "h.jsonl:4: truncated last line dropped" in result.output
    assert result.output.count("never completed") == 1, result.output


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("this is not a history\n", "cannot tell the history format"),
        ('{"index": 0, "process": 0, "type": "invoke", "f": "read"}\n{"oops\n{"a": 1}\n', ":2"),
        (
            '{"index": 0, "process": 0, "type": "ok", "f": "read", "value": 1}\n',
            "without an invocation",
        ),
        ('{"index": 0, "process": 0, "type": "bogus", "f": "read"}\n', "unknown op type"),
    ],
)
def test_garbage_input_exits_2_with_one_line(tmp_path, content, needle):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    result = _invoke(path)
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and result.output.startswith("error: ")
    assert needle in result.output and "Traceback" not in result.output


def test_missing_inputs_and_unknown_model_exit_2(tmp_path):
    assert _invoke(tmp_path / "absent.jsonl").exit_code == 2
    path = _set_file(tmp_path / "h.jsonl", lost=False)
    result = _invoke(path, "--events", tmp_path / "no-events")
    assert result.exit_code == 2 and "events directory not found" in result.output
    result = _invoke(path, "--model", "no-such-model")
    assert result.exit_code == 2 and "unknown model" in result.output


def test_store_dir_with_events_and_json_output(tmp_path):
    _set_file(tmp_path / "history.jsonl", lost=False)
    events = clean_cluster()
    events.write(tmp_path)
    result = _invoke(tmp_path, "--workload", "set", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["raft-safety"]["valid"] is True
    assert (tmp_path / "results.json").is_file()
    events.add("n1", 2, "role", role="leader")
    events.write(tmp_path)
    result = _invoke(tmp_path, "--workload", "set")
    assert result.exit_code == 1 and "2 leaders in term 2" in result.output


def test_events_option_for_a_history_file(tmp_path):
    events = clean_cluster()
    events.add("n1", 2, "vote", for_="n2")
    events.add("n1", 2, "vote", for_="n3")
    nodes = events.write(tmp_path)
    result = _invoke(_set_file(tmp_path / "h.jsonl", lost=False), "--events", nodes)
    assert result.exit_code == 1 and "voted twice" in result.output


def test_porcupine_histories_get_their_expected_exit_codes():
    """Model inference end to end: etcd logs as cas registers, kv files as string kv."""
    if not (PORCUPINE / "expected.tsv").is_file():
        pytest.skip("shared Porcupine data not present")
    rows = [line.split("\t") for line in (PORCUPINE / "expected.tsv").read_text().splitlines()[1:]]
    assert len(rows) > 10
    for name, _, expected in rows:
        result = _invoke(PORCUPINE / name, "--budget", "120")
        want = 0 if expected.strip() == "ok" else 1
        assert result.exit_code == want, (name, result.output)


def _cli_importable() -> bool:
    probe = subprocess.run(
        [sys.executable, "-c", "import harness.cli"],
        capture_output=True,
        cwd=Path(__file__).parents[2],
    )
    return probe.returncode == 0


@pytest.mark.skipif(
    not _cli_importable(), reason="harness.cli (lab/test commands) not importable yet"
)
def test_through_the_splitbrain_group(tmp_path):
    root = Path(__file__).parents[2]
    runner = "import sys; from harness.cli import main; main(sys.argv[1:])"
    codes = {}
    for name, lost in (("ok", False), ("bad", True)):
        path = _set_file(tmp_path / f"{name}.jsonl", lost=lost)
        done = subprocess.run(
            [sys.executable, "-c", runner, "check", str(path)],
            capture_output=True,
            text=True,
            cwd=root,
            timeout=120,
        )
        codes[name] = done.returncode
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text("\x00\x01 nonsense\n")
    done = subprocess.run(
        [sys.executable, "-c", runner, "check", str(garbage)],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=120,
    )
    assert codes == {"ok": 0, "bad": 1}
    assert (
        done.returncode == 2 and "Traceback" not in done.stderr and done.stderr.startswith("error:")
    )
