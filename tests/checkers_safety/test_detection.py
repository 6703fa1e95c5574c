"""Time to detection (checkers/detection.py): which op or node event each checker's
violations name, placed in test time, also when a clock fault skewed a node's wall clock."""

from __future__ import annotations

import json
from pathlib import Path

from checkers.composite import check_store
from checkers.detection import ClockAnchor, compute_detection, read_anchor
from checkers.history import write_jsonl
from tests.checkers_safety.builders import History

MS = 1_000_000


def _history() -> History:
    """A nemesis op at 1 ms, then client ops: p0 write (invoked at 2 ms), p1 read (4 ms),
    p0 write (6 ms)."""
    h = History().nemesis("start-partition")
    h.op(0, "write", 1, key="k").op(1, "read", None, result=1, key="k").op(0, "write", 2, key="k")
    return h


def _events_file(tmp_path: Path, events: list[dict]) -> Path:
    path = tmp_path / "nodes" / "n1" / "events.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def test_op_ids_of_violations_give_seconds_since_the_first_client_op():
    results = {
        "checkers": ["durability", "sets", "stats"],
        "durability": {"valid": False, "violations": [{"write": 2, "read": 1}]},
        "sets": {"valid": False, "violations": [{"read": 1}]},
        "stats": {"valid": True},
    }
    got = compute_detection(results, _history().ops)
    # origin = first client invoke (2 ms); read 1 invoked at 4 ms, write 2 at 6 ms
    assert got["by_checker"] == {"durability": 0.002, "sets": 0.002}
    assert got["earliest_s"] == 0.002 and got["checker"] == "durability"
    # the durability violation is whole only once its write (6 ms) is there too
    assert got["complete_by_checker"] == {"durability": 0.004, "sets": 0.002}


def test_valid_run_has_no_detection():
    results = {"checkers": ["stats"], "stats": {"valid": True}}
    assert compute_detection(results, _history().ops) == {
        "earliest_s": None,
        "checker": None,
        "by_checker": {},
        "event_clock": None,
        "complete_by_checker": {},
    }


def test_linearizability_counterexample_blocked_op_counts():
    results = {
        "checkers": ["linearizability"],
        "linearizability": {
            "valid": False,
            "details": {"counterexample": {"blocked": [{"id": 2, "start": 1_502 * MS}]}},
        },
    }
    got = compute_detection(results, _history().ops)
    assert got["by_checker"] == {"linearizability": 1.5}


def test_node_events_use_monotonic_stamps_despite_a_skewed_wall_clock(tmp_path):
    t0_mono, t0_wall = 5_000 * MS, 1_700_000_000_000 * MS
    skew = -3_600_000 * MS  # the clock nemesis set n1's wall clock back an hour
    path = _events_file(
        tmp_path,
        [
            {"t": t0_wall + 100 * MS + skew, "mono": t0_mono + 100 * MS, "ev": "start"},
            {"t": t0_wall + 9_002 * MS + skew, "mono": t0_mono + 9_002 * MS, "ev": "vote"},
        ],
    )
    results = {
        "checkers": ["raft-safety"],
        "raft-safety": {"valid": False, "violations": [{"events": [f"{path}:2"]}]},
    }
    shared = ClockAnchor(t0_wall, t0_mono, shared_monotonic=True)
    got = compute_detection(results, _history().ops, anchor=shared)
    assert got["by_checker"] == {"raft-safety": 9.0} and got["event_clock"] == "monotonic"
    # On ssh hosts the monotonic clocks differ: wall time is used, and said so.
    ssh = ClockAnchor(t0_wall, t0_mono, shared_monotonic=False)
    path.write_text(
        path.read_text().replace(str(t0_wall + 9_002 * MS + skew), str(t0_wall + 7_002 * MS))
    )
    got = compute_detection(results, _history().ops, anchor=ssh)
    assert got["by_checker"] == {"raft-safety": 7.0} and got["event_clock"] == "wall"


def test_events_before_the_first_op_count_as_zero_and_dumps_have_no_time(tmp_path):
    t0_mono = 10 * MS
    path = _events_file(tmp_path, [{"t": 1, "mono": t0_mono, "ev": "vote"}])
    results = {
        "checkers": ["raft-safety"],
        "raft-safety": {
            "valid": False,
            "violations": [{"events": [f"{path}:1", f"{tmp_path}/nodes/n1/dump.json#index=3"]}],
        },
    }
    got = compute_detection(results, _history().ops, anchor=ClockAnchor(0, t0_mono, True))
    assert got["by_checker"] == {"raft-safety": 0.0}


def test_anchor_from_a_store(tmp_path):
    (tmp_path / "clock.json").write_text('{"t0_wall_ns": 7, "t0_mono_ns": 9}\n')
    (tmp_path / "test.yaml").write_text("name: ''\ncluster: netns\nseed: 1\n")
    assert read_anchor(tmp_path) == ClockAnchor(7, 9, True)
    (tmp_path / "test.yaml").write_text("cluster: ssh\n")
    (tmp_path / "clock.json").write_text('{"t0_wall_ns": 7}\n')  # an older run
    assert read_anchor(tmp_path) == ClockAnchor(7, None, False)


def test_complete_is_when_a_violation_had_all_its_evidence(tmp_path):
    t0_mono = 10 * MS
    path = _events_file(
        tmp_path,
        [
            {"t": 1, "mono": t0_mono + 502 * MS, "ev": "vote"},  # 0.5 s after the first op
            {"t": 2, "mono": t0_mono + 25_002 * MS, "ev": "start"},  # the restart: 25 s
        ],
    )
    results = {
        "checkers": ["raft-safety"],
        "raft-safety": {"valid": False, "violations": [{"events": [f"{path}:1", f"{path}:2"]}]},
    }
    got = compute_detection(results, _history().ops, anchor=ClockAnchor(0, t0_mono, True))
    assert got["by_checker"] == {"raft-safety": 0.5}
    assert got["complete_by_checker"] == {"raft-safety": 25.0}


def test_check_store_writes_detection_into_results_json(tmp_path):
    h = History().op(0, "add", 1).op(1, "add", 2).nemesis("start-partition")
    h.op(0, "read", result=[2], final=True)  # element 1 lost; the read is invoked at 6 ms
    write_jsonl(tmp_path / "history.jsonl", h.ops)
    (tmp_path / "test.yaml").write_text("name: t\nworkload: set\ncluster: local\n")
    results = check_store(tmp_path)
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["detection"] == results["detection"]
    assert results["detection"]["by_checker"]["set"] == 0.005  # first op invoked at 1 ms
    assert results["detection"]["earliest_s"] == 0.005
    # A valid store says so with nulls.
    clean = tmp_path / "clean"
    clean.mkdir()
    write_jsonl(clean / "history.jsonl", History().op(0, "add", 1).op(0, "read", result=[1]).ops)
    (clean / "test.yaml").write_text("name: t\nworkload: set\n")
    detection = check_store(clean)["detection"]
    assert detection["earliest_s"] is None and detection["by_checker"] == {}
