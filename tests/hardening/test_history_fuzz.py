"""Random histories: the compact History reads back exactly what a list of Ops holds,
and no input makes `splitbrain check` crash (issue 11 items 5 and 8)."""

from __future__ import annotations

import json
from dataclasses import astuple

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checkers.compact_history import History
from checkers.history import HistoryError, Op, pair_history, parse_jsonl
from harness.cli import main

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 300), st.floats(allow_nan=False, allow_infinity=False)
)
VALUES = st.recursive(
    SCALARS | st.text(max_size=3), lambda inner: st.lists(inner, max_size=3), max_leaves=6
)
JSONISH = st.recursive(
    SCALARS | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def recorded_histories(draw: st.DrawFn) -> list[Op]:
    """Histories shaped like the recorder's: processes invoke and complete in turn, with
    retired info processes, nemesis ops, extra fields, nodes, errors and unfinished ops."""
    ops: list[Op] = []
    pending: dict[int, Op] = {}
    next_process = 0
    for _ in range(draw(st.integers(0, 40))):
        choice = draw(st.integers(0, 9))
        extra = draw(st.sampled_from([{}, {}, {"final": True}, {"setup": True, "x": [1]}]))
        node = draw(st.sampled_from([None, "n1", "n2"]))
        time = len(ops) * 10 + draw(st.integers(0, 9))
        if choice == 0:
            ops.append(Op("info", "start-kill", "nemesis", draw(VALUES), time=time, index=len(ops)))
        elif choice < 5 or not pending:
            process = draw(st.integers(0, next_process))
            if process in pending:
                continue
            next_process = max(next_process, process + 1)
            op = Op(
                "invoke",
                draw(st.sampled_from(["read", "write", "cas"])),
                process,
                draw(VALUES),
                draw(st.sampled_from([None, "k1", 3, ("a", 1)])),
                time,
                len(ops),
                draw(st.sampled_from([None, None, "odd"])),
                node,
                extra,
            )
            pending[process] = op
            ops.append(op)
        else:
            process = draw(st.sampled_from(sorted(pending)))
            invoke = pending.pop(process)
            ops.append(
                Op(
                    draw(st.sampled_from(["ok", "fail", "info"])),
                    invoke.f,
                    process,
                    draw(VALUES),
                    draw(st.sampled_from([invoke.key, None])),
                    time,
                    len(ops),
                    draw(st.sampled_from([None, "timeout", {"code": 1}])),
                    draw(st.sampled_from([None, node, "n3"])),
                    extra,
                )
            )
    for i, op in enumerate(ops):
        op.line = i + 1
    return ops


def _fields(op: Op) -> tuple:
    return astuple(op)  # every field, also `line` (which == leaves out)


@settings(max_examples=300, deadline=None)
@given(recorded_histories())
def test_history_rebuilds_every_op_and_the_same_pairing(ops):
    history = History()
    for op in ops:
        history.append(Op(*_fields(op)))
    assert len(history) == len(ops)
    assert [_fields(op) for op in history] == [_fields(op) for op in ops]
    assert [_fields(history[i]) for i in range(-len(ops), len(ops))] == [
        _fields(op) for op in ops + ops
    ]
    expected, got = pair_history(ops), pair_history(history)
    assert [astuple(o) for o in got.ops] == [astuple(o) for o in expected.ops]
    assert got.warnings == expected.warnings


def test_history_that_cannot_be_paired_reads_back_and_raises_on_pairing():
    ops = [Op("ok", "read", 1, 5, line=1), Op("invoke", "read", 1, line=2)]
    history = History(source="h.jsonl")
    for op in ops:
        history.append(op)
    assert [_fields(o) for o in history] == [_fields(o) for o in ops]
    try:
        pair_history(history)
    except HistoryError as exc:
        assert str(exc) == "h.jsonl:1: ok completion of 'read' by process 1 without an invocation"
    else:
        raise AssertionError("pairing a completion without invocation must fail")


def test_a_read_history_is_compact_and_equal_to_the_recorded_ops():
    ops = [Op("invoke", "write", 0, 1, "k", 5, 0, node="n1"), Op("ok", "write", 0, 1, "k", 9, 1)]
    text = "".join(json.dumps(op.to_json()) + "\n" for op in ops)
    read = parse_jsonl(text)
    assert isinstance(read.ops, History)
    assert list(read.ops) == ops


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            JSONISH,
            st.fixed_dictionaries(
                {},
                optional={
                    "type": st.sampled_from(["invoke", "ok", "fail", "info", 3, None]),
                    "f": st.one_of(
                        st.sampled_from(["read", "write", "cas", "add", "transfer"]), JSONISH
                    ),
                    "process": st.one_of(st.integers(0, 3), st.just("nemesis"), JSONISH),
                    "key": JSONISH,
                    "value": JSONISH,
                    "time": JSONISH,
                    "index": JSONISH,
                    "node": JSONISH,
                    "error": JSONISH,
                    "final": JSONISH,
                },
            ),
        ),
        max_size=8,
    )
)
def test_check_never_crashes_on_any_json_lines(tmp_path_factory, objects):
    path = tmp_path_factory.mktemp("fuzz") / "h.jsonl"
    path.write_text("".join(json.dumps(o) + "\n" for o in objects), encoding="utf-8")
    result = CliRunner().invoke(main, ["check", str(path), "--budget", "2"])
    assert result.exit_code in (0, 1, 2), result.output
    assert "internal error" not in result.stderr, result.stderr
    assert "checker failed" not in result.output, result.output
