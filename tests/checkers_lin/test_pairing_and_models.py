"""History semantics (pairing, info, retirement) and the models' sequential rules."""

from __future__ import annotations

import pytest

from checkers.composite import LIN_MODELS
from checkers.history import HistoryError, pair_history
from checkers.models import MODELS, ModelError, get_model

from .helpers import build, prepared


def test_pairing_info_and_never_completed_ops_are_open_ended():
    ops = build(
        ("invoke", 0, "write", 1),
        ("invoke", 1, "write", 2),
        ("info", "nemesis", "start-partition", None),
        ("info", 0, "write", 1),
        ("ok", 1, "write", 2),
        ("invoke", 2, "read", None),
    )
    paired = pair_history(ops)
    assert [(p.process, p.status, p.ret) for p in paired.ops] == [
        (0, "info", None),
        (1, "ok", 4),
        (2, "info", None),
    ]
    assert paired.ops[1].call == 1 and paired.ops[1].ret_line == 5
    assert any("never completed" in w for w in paired.warnings)


def test_a_retired_process_that_invokes_again_is_a_warning():
    ops = build(("invoke", 0, "read", None), ("info", 0, "read", None), ("invoke", 0, "read", None))
    paired = pair_history(ops)
    assert any("after an info op" in w for w in paired.warnings)


def test_completion_with_another_key_is_an_error():
    ops = build(("invoke", 0, "read", None, "a"), ("ok", 0, "read", 1, "b"))
    with pytest.raises(HistoryError, match="key"):
        pair_history(ops)


def _step_all(model_name, steps):
    """Run ops (as paired Operations, one at a time) through a model from init."""
    model = get_model(model_name)
    state = model.init()
    results = []
    for event in steps:
        ops = build(
            ("invoke", 0, event[1], event[2]), (event[0], 0, event[1], event[3], None, *event[4:])
        )
        prep = prepared(ops, model)
        if not prep:
            results.append("dropped")
            continue
        ok, state = model.step(state, prep[0])
        results.append(ok)
    return results, state


def test_cas_register_rules_including_failed_cas():
    results, state = _step_all(
        "cas-register",
        [
            ("ok", "read", None, None),
            ("ok", "write", 1, 1),
            ("ok", "cas", [1, 2], [1, 2]),
            ("ok", "cas", [1, 3], [1, 3]),  # state is 2: impossible
            ("fail", "cas", [1, 3], [1, 3]),  # mismatch: state is not 1, fine
            ("fail", "cas", [2, 3], [2, 3]),  # mismatch claimed but state is 2
            ("fail", "cas", [2, 3], [2, 3], "unavailable"),  # not a compare: dropped
            ("ok", "read", None, 2),
        ],
    )
    assert results == [True, True, True, False, True, False, "dropped", True]
    assert state == 2


def test_etcd_kv_missing_keys_and_delete():
    results, state = _step_all(
        "etcd-kv",
        [
            ("ok", "get", None, None),
            ("fail", "cas", [1, 2], [1, 2], "not-found"),
            ("ok", "put", 5, 5),
            ("fail", "cas", [5, 2], [5, 2], "not-found"),  # key exists: impossible
            ("ok", "delete", None, None),
            ("ok", "read", None, None),
        ],
    )
    assert results == [True, True, True, False, True, True]
    assert state is None


def test_set_counter_list_append_and_porcupine_kv_rules():
    assert _step_all(
        "set", [("ok", "add", 1, 1), ("ok", "read", None, [1]), ("ok", "read", None, [])]
    )[0] == [True, True, False]
    assert _step_all(
        "counter",
        [("ok", "add", 2, 2), ("ok", "incr", 1, 3), ("ok", "incr", 1, 9), ("ok", "read", None, 3)],
    )[0] == [True, True, False, True]
    assert _step_all(
        "list-append",
        [
            ("ok", "append", 1, None),
            ("ok", "append", 2, [1, 2]),
            ("ok", "append", 3, [3]),
            ("ok", "read", None, [1, 2]),
        ],
    )[0] == [True, True, False, True]
    assert _step_all(
        "porcupine-kv",
        [
            ("ok", "get", None, ""),
            ("ok", "append", "a", "a"),
            ("ok", "put", "b", "b"),
            ("ok", "append", "c", "c"),
            ("ok", "get", None, "bc"),
        ],
    )[0] == [True, True, True, True, True]


def test_info_reads_and_plain_failures_are_dropped():
    results, _ = _step_all("register", [("info", "read", None, None), ("fail", "write", 1, 1)])
    assert results == ["dropped", "dropped"]


def test_unknown_op_for_a_model_names_the_line():
    ops = build(("invoke", 0, "frobnicate", 1), ("ok", 0, "frobnicate", 1))
    with pytest.raises(ModelError) as info:
        prepared(ops, get_model("cas-register"))
    assert info.value.line == 1 and "frobnicate" in str(info.value)


def test_registry():
    assert {
        "register",
        "cas-register",
        "kv",
        "kv-whole",
        "set",
        "counter",
        "list-append",
        "etcd-kv",
        "porcupine-kv",
    } <= set(MODELS)
    for name in MODELS:
        assert get_model(name).name == name
    with pytest.raises(ValueError, match="unknown model"):
        get_model("nope")
    # one table says which model checks which workload (or imported history family)
    assert set(LIN_MODELS.values()) <= set(MODELS)
    assert LIN_MODELS["kv"] == "kv" and "bank" not in LIN_MODELS


def test_partition_splits_by_key_except_kv_whole():
    ops = build(
        ("invoke", 0, "write", 1, "a"),
        ("ok", 0, "write", 1, "a"),
        ("invoke", 0, "write", 2, "b"),
        ("ok", 0, "write", 2, "b"),
    )
    split = get_model("kv")
    assert sorted(k for k, _ in split.partition(prepared(ops, split))) == ["a", "b"]
    whole = get_model("kv-whole")
    assert [k for k, _ in whole.partition(prepared(ops, whole))] == [None]
