"""The KV state machine: each op's result and errors, dedup, snapshots, validation."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raftnode.core.types import ClientRequest
from raftnode.kv import BadRequest, KVStateMachine, command_from_request


def cmd(op, key="k", value=None, **extra):
    cid = extra.pop("client_id", None)
    seq = extra.pop("seq", None)
    return command_from_request(ClientRequest("h", op, key, value, cid, seq, extra))


def test_write_read_delete():
    kv = KVStateMachine()
    assert kv.apply(cmd("read")) == {"ok": True, "value": None, "error": None}
    assert kv.apply(cmd("write", value={"a": [1]}))["ok"]
    assert kv.apply(cmd("read"))["value"] == {"a": [1]}
    assert kv.apply(cmd("delete"))["ok"]
    assert kv.apply(cmd("delete"))["error"] == "not-found"
    assert kv.read("k") is None


def test_cas():
    kv = KVStateMachine()
    assert kv.apply(cmd("cas", old=1, new=2))["error"] == "not-found"
    kv.apply(cmd("write", value=1))
    res = kv.apply(cmd("cas", old=5, new=2))
    assert res["error"] == "precondition-failed" and res["value"] == 1
    assert kv.apply(cmd("cas", value=[1, 2]))["ok"]  # [old, new] form
    assert kv.read("k") == 2


def test_append_incr_transfer():
    kv = KVStateMachine()
    assert kv.apply(cmd("append", value=1))["value"] == [1]
    assert kv.apply(cmd("append", value=2))["value"] == [1, 2]
    assert kv.apply(cmd("incr", "c", 5))["value"] == 5
    assert kv.apply(cmd("incr", "c", -2))["value"] == 3
    assert kv.apply(cmd("append", "c", 1))["error"] == "precondition-failed"
    kv.apply(cmd("write", "a", 10))
    t = command_from_request(
        ClientRequest("h", "transfer", None, 4, extra={"from": "a", "to": "b"})
    )
    assert kv.apply(t)["ok"]
    assert (kv.read("a"), kv.read("b")) == (6, 4)
    big = command_from_request(
        ClientRequest("h", "transfer", None, 7, extra={"from": "a", "to": "b"})
    )
    res = kv.apply(big)
    assert res["error"] == "precondition-failed" and kv.read("a") == 6


@pytest.mark.parametrize(
    "req",
    [
        ClientRequest("h", "frobnicate", "k"),
        ClientRequest("h", "read", None),
        ClientRequest("h", "read", ""),
        ClientRequest("h", "incr", "k", "one"),
        ClientRequest("h", "cas", "k", 3),
        ClientRequest("h", "transfer", None, -1, extra={"from": "a", "to": "b"}),
        ClientRequest("h", "transfer", None, 1, extra={"from": "a"}),
        ClientRequest("h", "write", "k", 1, client_id="c"),
        ClientRequest("h", "write", "k", 1, client_id=3, seq=1),
    ],
)
def test_bad_requests_are_rejected_with_one_line(req):
    with pytest.raises(BadRequest) as info:
        command_from_request(req)
    assert "\n" not in str(info.value) and str(info.value)


def test_dedup_returns_first_result_once():
    kv = KVStateMachine()
    a = cmd("append", value="x", client_id="c1", seq=1)
    assert kv.apply(a)["value"] == ["x"]
    assert kv.apply(a)["value"] == ["x"]  # the retry answers with the first result
    assert kv.read("k") == ["x"]
    b = cmd("append", value="y", client_id="c1", seq=2)
    assert kv.apply(b)["value"] == ["x", "y"]
    stale = kv.apply(a)
    assert stale["error"] == "bad-request" and kv.read("k") == ["x", "y"]
    # Another client with the same seq is independent.
    assert kv.apply(cmd("append", value="z", client_id="c2", seq=1))["ok"]


def test_without_dedup_retries_apply_twice():
    kv = KVStateMachine(dedup=False)
    a = cmd("append", value="x", client_id="c1", seq=1)
    kv.apply(a)
    kv.apply(a)
    assert kv.read("k") == ["x", "x"]


def test_preview_does_not_mutate():
    kv = KVStateMachine()
    kv.apply(cmd("append", value=1))
    assert kv.preview(cmd("append", value=2))["value"] == [1, 2]
    assert kv.read("k") == [1]


def test_snapshot_restore_is_json_and_independent():
    kv = KVStateMachine()
    kv.apply(cmd("append", value=1, client_id="c", seq=1))
    image = kv.snapshot()
    kv.apply(cmd("append", value=2))
    other = KVStateMachine()
    other.restore(json.loads(json.dumps(image)))
    assert other.read("k") == [1]
    # dedup survives the snapshot
    assert other.apply(cmd("append", value=1, client_id="c", seq=1))["value"] == [1]
    assert other.read("k") == [1]


ops = st.one_of(
    st.tuples(st.just("write"), st.sampled_from("abc"), st.integers(0, 3)),
    st.tuples(st.just("append"), st.sampled_from("abc"), st.integers(0, 3)),
    st.tuples(st.just("incr"), st.sampled_from("abc"), st.integers(-3, 3)),
    st.tuples(st.just("delete"), st.sampled_from("abc"), st.none()),
    st.tuples(
        st.just("cas"), st.sampled_from("abc"), st.tuples(st.integers(0, 3), st.integers(0, 3))
    ),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(ops, max_size=30), st.integers(0, 30))
def test_snapshot_midway_equals_straight_run(seq, cut):
    """Replaying from a snapshot gives the same state as applying everything."""
    cmds = [cmd(op, key, list(v) if isinstance(v, tuple) else v) for op, key, v in seq]
    straight = KVStateMachine()
    results = [straight.apply(c) for c in cmds]
    first = KVStateMachine()
    for c in cmds[:cut]:
        first.apply(c)
    resumed = KVStateMachine()
    resumed.restore(json.loads(json.dumps(first.snapshot())))
    assert [resumed.apply(c) for c in cmds[cut:]] == results[cut:]
    assert resumed.data == straight.data
