"""The composite check: checker selection per workload, merge, results.json, summary."""

from __future__ import annotations

import json

import pytest

from checkers import composite, sets
from checkers.composite import check_history, check_store, infer_workload, summary_text
from checkers.history import HistoryError, write_jsonl
from tests.checkers_safety.builders import History, clean_cluster


def _set_history(lost: bool = False) -> History:
    h = (
        History()
        .op(0, "add", 1)
        .op(1, "add", 2)
        .nemesis("start-partition")
        .nemesis("stop-partition")
    )
    return h.op(0, "read", result=[2] if lost else [1, 2], final=True)


def _store(tmp_path, history: History, *, workload: str | None = "set", events=None):
    tmp_path.mkdir(parents=True, exist_ok=True)
    write_jsonl(tmp_path / "history.jsonl", history.ops)
    if workload:
        (tmp_path / "test.yaml").write_text(f"name: t\nworkload: {workload}\n")
    if events is not None:
        events.write(tmp_path)
    return tmp_path


def test_store_valid_writes_results_json(tmp_path):
    store = _store(tmp_path, _set_history(), events=clean_cluster())
    results = check_store(store)
    on_disk = json.loads((store / "results.json").read_text())
    assert on_disk == json.loads(json.dumps(results))
    assert results["valid"] is True and results["workload"] == "set" and results["model"] is None
    assert results["checkers"] == ["stats", "errors", "set", "durability", "raft-safety"]
    for name in results["checkers"]:
        assert on_disk[name]["valid"] is True and on_disk[name]["summary"]
    assert results["history"]["client_ops"] == 3


def test_recheck_keeps_what_only_the_run_knew(tmp_path):
    """`splitbrain check STORE` rewrites the verdict, not when the watcher stopped the run
    or what went wrong in the harness; a torn results.json is simply replaced."""
    store = _store(tmp_path / "a", _set_history(lost=True))
    facts = {"stopped_early_at_s": 3.25, "online": {"looks": 7}, "harness_error": "teardown"}
    (store / "results.json").write_text(json.dumps({"valid": True, "set": {}, **facts}))
    results = check_store(store)
    assert results["valid"] is False
    on_disk = json.loads((store / "results.json").read_text())
    assert {key: on_disk[key] for key in facts} == facts
    torn = _store(tmp_path / "b", _set_history())
    (torn / "results.json").write_text('{"valid": tr')
    results = check_store(torn)
    assert results["valid"] is True and "stopped_early_at_s" not in results


def test_store_invalid_from_history_or_from_events(tmp_path):
    results = check_store(_store(tmp_path / "a", _set_history(lost=True)))
    assert results["valid"] is False and results["set"]["valid"] is False
    events = clean_cluster()
    events.add("n3", 2, "role", role="leader")
    results = check_store(_store(tmp_path / "b", _set_history(), events=events))
    assert results["valid"] is False and results["raft-safety"]["valid"] is False
    assert results["set"]["valid"] is True
    assert json.loads((tmp_path / "b" / "results.json").read_text())["valid"] is False


def test_unknown_beats_true_and_false_beats_unknown(tmp_path):
    h = History().op(0, "incr", 1).op(0, "incr", 1)  # no reads: counter cannot judge
    results = check_history(h.ops, workload="counter")
    assert results["counter"]["valid"] == "unknown" and results["valid"] == "unknown"
    h.op(1, "read", result=7)
    assert check_history(h.ops, workload="counter")["valid"] is False


def test_crashing_checker_becomes_unknown(monkeypatch):
    def boom(ops, **kw):
        raise RuntimeError("kaput")

    monkeypatch.setattr(sets, "check", boom)
    results = check_history(_set_history().ops, workload="set")
    assert results["set"]["valid"] == "unknown" and "kaput" in results["set"]["summary"]
    assert results["valid"] == "unknown"


def test_bank_workload_runs_bank_checker():
    h = (
        History()
        .op(0, "transfer", {"from": "a", "to": "b", "amount": 1})
        .op(1, "read", result={"a": 4, "b": 5})
    )
    results = check_history(h.ops, workload="bank")
    assert "bank" in results["checkers"] and results["bank"]["details"]["total"] == 9


def test_unpaired_history_raises():
    h = History().complete("ok", 0, "write", 1)
    with pytest.raises(HistoryError):
        check_history(h.ops, workload="register")
    with pytest.raises(ValueError, match="unknown workload"):
        check_history(History().op(0, "read", result=1).ops, workload="nope")


def test_store_checks_a_history_already_read(tmp_path):
    """The runner reads history.jsonl once and hands it over: check_store reads nothing."""
    store = _store(tmp_path, _set_history(lost=True))
    read = composite.load_store_history(store)
    (store / "history.jsonl").unlink()
    results = check_store(store, history=read)
    assert results["valid"] is False and results["history"]["client_ops"] == 3
    assert json.loads((store / "results.json").read_text())["valid"] is False


def test_missing_history_in_store(tmp_path):
    with pytest.raises(HistoryError, match="no history.jsonl"):
        check_store(tmp_path)


def test_infer_workload():
    assert infer_workload(History().op(0, "transfer", [0, 1, 2]).ops) == "bank"
    assert infer_workload(History().op(0, "add", 1).op(0, "read", result=[1]).ops) == "set"
    assert infer_workload(History().op(0, "add", 1).op(0, "read", result=1).ops) == "counter"
    assert (
        infer_workload(History().op(0, "append", 1, key="a").op(0, "read", result=[1], key="a").ops)
        == "append"
    )
    assert (
        infer_workload(
            History().op(0, "append", "x", key="a").op(0, "get", result="x", key="a").ops
        )
        == "kv"
    )
    assert (
        infer_workload(History().op(0, "write", 1, key="a").op(0, "write", 1, key="b").ops) == "kv"
    )
    assert infer_workload(History().op(0, "write", 1).op(0, "cas", [1, 2]).ops) == "register"


def test_model_family_for_imported_formats():
    h = History().op(0, "write", 1)
    assert composite.model_family("register", h.ops, "jepsen-log") == "etcd"
    kv = History().op(0, "put", "a", key="1").ops
    assert composite.model_family("kv", kv, "edn") == "porcupine-kv"
    assert composite.model_family("set", h.ops) is None


def test_summary_text_lists_checkers_and_violations(tmp_path):
    events = clean_cluster()
    events.add("n3", 2, "role", role="leader")
    results = check_history(
        _set_history(lost=True).ops, workload="set", events_dir=events.write(tmp_path)
    )
    text = summary_text(results)
    assert text.splitlines()[0].startswith("verdict: INVALID")
    assert "[set] element 1 lost" in text and "[raft-safety] 2 leaders in term 2" in text


def test_register_workload_runs_linearizability():
    good = History().op(0, "write", 1).op(1, "read", result=1)
    results = check_history(good.ops, workload="register")
    assert results["model"] == "cas-register" and results["linearizability"]["valid"] is True
    bad = History().op(0, "write", 1).op(1, "read", result=2)
    assert check_history(bad.ops, workload="register")["valid"] is False


def test_durability_only_for_workloads_with_plain_writes():
    h = History().op(0, "write", 10, key="a").op(0, "write", 10, key="b")
    h.op(1, "transfer", {"from": "a", "to": "b", "amount": 4})
    h.op(2, "read", result=6, key="a", final=True).op(2, "read", result=14, key="b", final=True)
    results = check_history(h.ops, workload="bank")
    assert results["checkers"] == ["stats", "errors", "bank"] and results["valid"] is True
    h = History().op(0, "incr", 3, key="c").op(2, "read", result=3, key="c", final=True)
    assert "durability" not in check_history(h.ops, workload="counter")["checkers"]
