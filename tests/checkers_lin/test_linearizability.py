"""The checker on hand-built histories: verdicts, info semantics, budgets, reports."""

from __future__ import annotations

import json

import pytest

from checkers.history import Operation
from checkers.lin_gen import generate
from checkers.lin_search import search
from checkers.linearizability import check
from checkers.models import Model, get_model

from .helpers import build, prepared


def test_sequential_history_is_linearizable():
    ops = build(
        ("invoke", 0, "write", 1),
        ("ok", 0, "write", 1),
        ("invoke", 0, "read", None),
        ("ok", 0, "read", 1),
    )
    result = check(ops, "register")
    assert result.valid is True
    assert "linearizable" in result.summary()


def test_stale_read_after_a_completed_write_is_not():
    ops = build(
        ("invoke", 0, "write", 1),
        ("ok", 0, "write", 1),
        ("invoke", 1, "read", None),
        ("ok", 1, "read", None),
    )
    result = check(ops, "register")
    assert result.valid is False


def test_concurrent_write_may_be_seen_or_not():
    for seen in (None, 1):
        ops = build(
            ("invoke", 0, "write", 1),
            ("invoke", 1, "read", None),
            ("ok", 1, "read", seen),
            ("ok", 0, "write", 1),
        )
        assert check(ops, "register").valid is True


def test_info_write_may_take_effect_late():
    ops = build(
        ("invoke", 0, "write", 1),
        ("info", 0, "write", 1),
        ("invoke", 1, "read", None),
        ("ok", 1, "read", None),
        ("invoke", 1, "read", None),
        ("ok", 1, "read", 1),
    )
    assert check(ops, "register").valid is True


def test_info_write_may_never_take_effect():
    ops = build(
        ("invoke", 0, "write", 1),
        ("info", 0, "write", 1),
        ("invoke", 1, "read", None),
        ("ok", 1, "read", None),
    )
    assert check(ops, "register").valid is True


def test_info_write_cannot_be_undone_once_seen():
    ops = build(
        ("invoke", 0, "write", 1),
        ("info", 0, "write", 1),
        ("invoke", 1, "read", None),
        ("ok", 1, "read", 1),
        ("invoke", 1, "read", None),
        ("ok", 1, "read", None),
    )
    assert check(ops, "register").valid is False


def test_info_op_cannot_take_effect_before_its_invocation():
    ops = build(
        ("invoke", 1, "read", None),
        ("ok", 1, "read", 1),
        ("invoke", 0, "write", 1),
        ("info", 0, "write", 1),
    )
    assert check(ops, "register").valid is False


def test_failed_cas_constrains_like_the_etcd_logs_need():
    # The register is 1 throughout the failed cas [1 2]: a mismatch is impossible.
    ops = build(
        ("invoke", 0, "write", 1),
        ("ok", 0, "write", 1),
        ("invoke", 1, "cas", [1, 2]),
        ("fail", 1, "cas", [1, 2]),
    )
    assert check(ops, "cas-register").valid is False
    # ...unless a concurrent write changed it meanwhile.
    ops = build(
        ("invoke", 0, "write", 1),
        ("ok", 0, "write", 1),
        ("invoke", 1, "cas", [1, 2]),
        ("invoke", 2, "write", 3),
        ("ok", 2, "write", 3),
        ("fail", 1, "cas", [1, 2]),
    )
    assert check(ops, "cas-register").valid is True


def test_keys_are_checked_independently_and_reported_per_key():
    ops = build(
        ("invoke", 0, "write", 1, "a"),
        ("ok", 0, "write", 1, "a"),
        ("invoke", 0, "write", 5, "b"),
        ("ok", 0, "write", 5, "b"),
        ("invoke", 1, "read", None, "a"),
        ("ok", 1, "read", 5, "a"),
    )
    result = check(ops, "kv")
    assert result.valid is False
    verdicts = {k.key: k.valid for k in result.keys}
    assert verdicts["a"] is False
    assert check(ops, "kv-whole").valid is False
    assert result.counterexample["key"] == "a"


def test_counterexample_names_the_impossible_read_and_is_json():
    ops = build(
        ("invoke", 0, "write", 1),
        ("ok", 0, "write", 1),
        ("invoke", 1, "write", 2),
        ("invoke", 2, "read", None),
        ("ok", 2, "read", 2),
        ("ok", 1, "write", 2),
        ("invoke", 2, "read", None),
        ("ok", 2, "read", 1),
    )
    result = check(ops, "register")
    assert result.valid is False
    ce = result.counterexample
    json.dumps(result.to_json())
    assert [b["f"] for b in ce["blocked"]] == ["read"]
    assert ce["blocked"][0]["result"] == 1
    prefix = ce["prefixes"][0]
    assert prefix["length"] == 3
    window = {w["id"]: w for w in prefix["window"]}
    assert window[prefix["blocked"]]["blocked"] is True
    assert sorted(w["lin_index"] for w in window.values() if w["linearized"]) == [0, 1, 2]
    assert all({"start", "end", "process", "status"} <= set(w) for w in window.values())
    text = result.summary()
    assert "cannot linearize p2 read" in text and "lines 7-8" in text


def test_valid_search_returns_a_witness_that_respects_real_time():
    history = generate("cas-register", n_ops=300, concurrency=4, info_rate=0.05, seed=3)
    model = get_model("cas-register")
    ops = prepared(history, model)
    outcome = search(ops, model)
    assert outcome.valid is True
    position = {i: n for n, i in enumerate(outcome.order)}
    assert all(i in position for i, op in enumerate(ops) if op.ret is not None)
    for a, op_a in enumerate(ops):
        for b, op_b in enumerate(ops):
            if a in position and b in position and op_a.ret is not None and op_a.ret < op_b.call:
                assert position[a] < position[b]
    state = model.init()
    for i in outcome.order:
        ok, state = model.step(state, ops[i])
        assert ok


def test_time_budget_gives_unknown_with_what_was_explored():
    history = generate("register", n_ops=20000, concurrency=10, seed=1)
    result = check(history, "register", budget_s=0.0)
    assert result.valid == "unknown"
    assert "time budget" in result.reason
    assert result.keys[0].configs > 0
    assert "unknown" in result.summary()


def test_memory_budget_gives_unknown():
    history = generate("register", n_ops=20000, concurrency=10, seed=1)
    result = check(history, "register", memory_mb=0.01)
    assert result.valid == "unknown"
    assert "memory budget" in result.reason


def test_parallel_path_agrees_with_serial():
    history = generate("cas-register", n_ops=21000, keys=4, concurrency=8, info_rate=0.01, seed=5)
    parallel = check(history, "cas-register", workers=2)
    assert parallel.parallel is True and parallel.valid is True
    assert len(parallel.keys) == 4
    # an early impossible read (proving a late one impossible needs the whole key's
    # search space; see the doc's "limits")
    bad = [i for i, op in enumerate(history) if op.type == "ok" and op.f == "read"][5]
    history[bad].value = 999
    assert check(history, "cas-register", workers=2).valid is False


def test_accepts_already_paired_operations_and_does_not_mutate_them():
    from checkers.history import pair_history

    ops = build(("invoke", 0, "write", [1, 2]), ("ok", 0, "write", [1, 2]))
    paired = pair_history(ops).ops
    assert check(paired, "register").valid is True
    assert isinstance(paired[0], Operation) and paired[0].value == [1, 2]


def test_the_documented_user_model_works():
    """The `Flag` example in checkers.models' docstring, run as written."""
    import textwrap

    import checkers.models

    doc = checkers.models.__doc__
    example = doc[doc.index("    class Flag(Model):") : doc.index("States must")]
    namespace: dict = {"Model": Model}
    exec(textwrap.dedent(example), namespace)
    Flag = namespace["Flag"]

    good = build(
        ("invoke", 0, "read", None),
        ("ok", 0, "read", False),
        ("invoke", 0, "set", None),
        ("ok", 0, "set", None),
        ("invoke", 0, "read", None),
        ("ok", 0, "read", True),
    )
    assert check(good, Flag()).valid is True
    bad = good[:4] + build(("invoke", 0, "read", None), ("ok", 0, "read", False))
    assert check(bad, Flag()).valid is False


@pytest.mark.parametrize("model", ["set", "counter", "list-append", "porcupine-kv"])
def test_empty_and_read_only_histories(model):
    assert check([], model).valid is True


def _twins(reads_of_one: int):
    """Two identical info writes of 1, then `reads_of_one` reads of 1 each after a
    completed write of 2: each read needs its own info write to land just before it."""
    events = [
        ("invoke", 0, "write", 1),
        ("info", 0, "write", 1),
        ("invoke", 1, "write", 1),
        ("info", 1, "write", 1),
    ]
    for _ in range(reads_of_one):
        events += [
            ("invoke", 2, "write", 2),
            ("ok", 2, "write", 2),
            ("invoke", 2, "read", None),
            ("ok", 2, "read", 1),
        ]
    return build(*events)


def test_identical_info_ops_can_each_be_used_once():
    assert check(_twins(1), "register").valid is True
    assert check(_twins(2), "register").valid is True
    assert check(_twins(3), "register").valid is False


def test_late_violation_among_many_info_ops_is_found_by_the_relaxed_search():
    # Proving this invalid exactly means exploring every subset of the pending info
    # ops; the relaxed search does not, and its "invalid" is a proof.
    history = generate("cas-register", n_ops=1500, concurrency=8, info_rate=0.02, seed=5)
    last_read = [i for i, op in enumerate(history) if op.type == "ok" and op.f == "read"][-1]
    history[last_read].value = 999
    result = check(history, "cas-register", budget_s=120)
    assert result.valid is False
    assert "over-approximation" in result.keys[0].note
    assert result.counterexample["blocked"][0]["result"] == 999
