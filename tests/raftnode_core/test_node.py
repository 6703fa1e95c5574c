"""NodeLogic: ReadIndex, forwarding, timeouts, snapshots, restart, events, status."""

from __future__ import annotations

import pytest

from raftnode.core.digest import command_digest
from raftnode.core.node import NodeConfig, NodeLogic
from raftnode.core.types import ClientRequest, Entry, HardState, PersistentState

from .helpers import ack_all, drain, elect, make_node, msg, msgs, reply_for


def leader3(**cfg) -> NodeLogic:
    """n1 as leader of a 3-node cluster, its no-op committed."""
    node = make_node(**cfg)
    rd = elect(node)
    ack_all(node, rd)
    assert node.raft.committed_in_term()
    return node


def test_command_digest_is_canonical():
    assert command_digest({"b": 1, "a": 2}) == command_digest({"a": 2, "b": 1})
    assert command_digest(None) == command_digest(None) != command_digest({})
    assert len(command_digest({"op": "read"})) == 16


def test_unknown_bug_is_rejected():
    with pytest.raises(ValueError, match="unknown bug"):
        make_node(bugs=frozenset({"no-such-bug"}))


def test_read_index_waits_for_a_heartbeat_quorum():
    node = leader3()
    node.submit(ClientRequest("w", "write", "k", 7))
    ack_all(node, drain(node))
    node.submit(ClientRequest("r", "read", "k"))
    rd = drain(node)
    assert not rd.replies  # not before leadership is confirmed
    beats = [m for m in msgs(rd, "append") if m.context is not None]
    assert {m.dst for m in beats} == {"n2", "n3"}
    ctx = beats[0].context
    node.step(
        msg("append_resp", "n2", "n1", node.raft.term, match_index=0, log_index=0, context=ctx)
    )
    rd = drain(node)
    assert reply_for(rd, "r").value == 7


def test_read_index_waits_for_the_term_noop():
    node = make_node()
    first = elect(node)  # no-op sent, not acknowledged yet
    node.submit(ClientRequest("r", "read", "k"))
    rd = drain(node)
    assert not rd.replies and not [m for m in msgs(rd, "append") if m.context is not None]
    rd = ack_all(node, first)  # the no-op commits, then the read round goes out
    beats = [m for m in msgs(rd, "append") if m.context is not None]
    assert beats
    rd = ack_all(node, rd)
    assert reply_for(rd, "r").ok


def test_reads_fail_when_leadership_is_lost_and_time_out_when_unconfirmed():
    node = leader3()
    node.submit(ClientRequest("r1", "read", "k"))
    drain(node)
    node.step(msg("append", "n2", "n1", node.raft.term + 1, log_index=0, log_term=0))
    rd = drain(node)
    assert reply_for(rd, "r1").error == "not-leader" and reply_for(rd, "r1").leader == "n2"
    node2 = leader3(request_timeout_ticks=5, election_ticks=50)
    node2.submit(ClientRequest("r2", "read", "k"))
    drain(node2)
    replies = []
    for _ in range(6):
        node2.tick(0)
        replies += drain(node2).replies
    assert [r.error for r in replies if r.handle == "r2"] == ["unavailable"]


def test_write_times_out_as_unknown():
    node = leader3(request_timeout_ticks=5, election_ticks=50)
    node.submit(ClientRequest("w", "write", "k", 1))
    replies = []
    for _ in range(6):
        node.tick(0)
        replies += drain(node).replies
    assert [r.error for r in replies] == ["timeout"]


def test_follower_forwards_and_relays_the_answer():
    node = make_node(term=2)
    node.submit(ClientRequest("w", "write", "k", 1))
    assert reply_for(drain(node), "w").error == "unavailable"  # no leader known
    node.step(msg("append", "n2", "n1", 2, log_index=0, log_term=0))
    drain(node)
    node.submit(ClientRequest("w2", "write", "k", 1, client_id="c", seq=3))
    rd = drain(node)
    fwd = msgs(rd, "forward", "n2")[0]
    assert fwd.context["req"]["op"] == "write" and fwd.context["req"]["seq"] == 3
    answer = {"ok": True, "value": None, "error": None, "leader": "n2", "index": 9}
    node.step(msg("forward_resp", "n2", "n1", 2, context={**fwd.context, "reply": answer}))
    rd = drain(node)
    assert reply_for(rd, "w2").ok and reply_for(rd, "w2").index == 9
    # A duplicate answer is ignored.
    node.step(msg("forward_resp", "n2", "n1", 2, context={**fwd.context, "reply": answer}))
    assert not drain(node).replies


def test_forward_times_out_as_unknown_for_writes():
    node = make_node(term=2, request_timeout_ticks=3, election_ticks=50)
    node.step(msg("append", "n2", "n1", 2, log_index=0, log_term=0))
    drain(node)
    node.submit(ClientRequest("w", "write", "k", 1))
    node.submit(ClientRequest("r", "read", "k"))
    replies = []
    for _ in range(4):
        node.tick(0)
        replies += drain(node).replies
    errors = {r.handle: r.error for r in replies}
    assert errors == {"w": "timeout", "r": "unavailable"}


def test_leader_serves_forwarded_requests_once():
    node = leader3()
    ctx = {"fid": 1, "boot": "b1", "req": {"op": "append", "key": "l", "value": "x", "extra": {}}}
    node.step(msg("forward", "n2", "n1", node.raft.term, context=ctx))
    node.step(msg("forward", "n2", "n1", node.raft.term, context=ctx))  # duplicated packet
    rd = drain(node)
    assert sum(len(m.entries) for m in msgs(rd, "append", "n3")) == 1
    rd = ack_all(node, rd)
    resp = msgs(rd, "forward_resp", "n2")
    assert len(resp) == 1 and resp[0].context["reply"]["value"] == ["x"]
    assert resp[0].context["fid"] == 1 and resp[0].context["boot"] == "b1"


def test_forwarded_request_to_non_leader_is_refused():
    node = make_node(term=2)
    ctx = {"fid": 1, "boot": "b", "req": {"op": "write", "key": "k", "value": 1, "extra": {}}}
    node.step(msg("forward", "n2", "n1", 2, context=ctx))
    resp = msgs(drain(node), "forward_resp", "n2")[0]
    assert resp.context["reply"]["error"] == "unavailable"


def test_bad_request_gets_bad_request():
    node = leader3()
    node.submit(ClientRequest("x", "write", None, 1))
    r = reply_for(drain(node), "x")
    assert r.error == "bad-request" and "key" in (r.message or "")


def test_snapshot_every_n_entries_and_restart_from_it():
    node = make_node(peers=("n1",), snapshot_every=4)
    for _ in range(40):
        node.tick(0)
        drain(node)
    saved_snap, saved = None, {}
    for i in range(9):
        node.submit(ClientRequest(f"h{i}", "append", "l", i))
        rd = drain(node)
        if rd.snapshot is not None:
            assert rd.compact_to == rd.snapshot.index
            saved_snap = rd.snapshot
        for e in rd.entries:
            saved[e.index] = e
        assert reply_for(rd, f"h{i}").value == list(range(i + 1))
    assert saved_snap is not None and saved_snap.index >= 4
    # Restart from (snapshot + entries after it): same state, same commit.
    tail = [saved[i] for i in sorted(saved) if i > saved_snap.index]
    restored = PersistentState(HardState(node.raft.term, "n1", node.raft.commit), saved_snap, tail)
    again = NodeLogic(
        "n1", ["n1"], NodeConfig(election_ticks=10, heartbeat_ticks=2, seed=2), restored
    )
    rd = drain(again)
    assert again.kv.read("l") == list(range(9))
    assert rd.events[0]["ev"] == "start" and rd.events[0]["commit"] == node.raft.commit


def test_restart_replays_committed_entries_only():
    entries = [
        Entry(1, 1, None),
        Entry(1, 2, {"op": "write", "key": "k", "value": 1}),
        Entry(1, 3, {"op": "write", "key": "k", "value": 2}),
    ]
    node = NodeLogic(
        "n1",
        ["n1", "n2", "n3"],
        NodeConfig(seed=1),
        PersistentState(HardState(1, None, 2), None, entries),
    )
    assert node.applied == 2 and node.kv.read("k") == 1
    rd = drain(node)
    applies = [e["index"] for e in rd.events if e["ev"] == "apply"]
    assert applies == [1, 2]


def test_events_and_status():
    node = make_node()
    rd = elect(node)
    rd = ack_all(node, rd)
    node.submit(ClientRequest("w", "write", "k", 1))
    rd = drain(node)
    rd2 = ack_all(node, rd)
    evs = rd.events + rd2.events
    app = [e for e in evs if e["ev"] == "append"][0]
    assert app["digest"] == command_digest({"op": "write", "key": "k", "value": 1})
    assert any(e["ev"] == "commit" and e["index"] == app["index"] for e in evs)
    assert any(e["ev"] == "apply" and e["digest"] == app["digest"] for e in evs)
    assert all(e["node"] == "n1" and "term" in e for e in evs)
    st = node.status()
    for key in (
        "id",
        "role",
        "term",
        "leader",
        "commit_index",
        "last_log_index",
        "last_log_term",
        "applied_index",
        "snapshot_index",
        "wall_clock_ns",
        "bugs",
        "peers",
    ):
        assert key in st
    assert st["role"] == "leader" and st["commit_index"] == st["applied_index"] == 2


def test_ack_before_commit_answers_before_replication():
    node = leader3(bugs=frozenset({"ack-before-commit"}))
    node.submit(ClientRequest("w", "append", "l", 1))
    rd = drain(node)
    r = reply_for(rd, "w")
    assert r.ok and r.value == [1] and node.raft.commit < r.index


def test_follower_read_and_stale_read_answer_locally():
    f = make_node(term=2, bugs=frozenset({"follower-read"}))
    f.submit(ClientRequest("r", "read", "k"))
    assert reply_for(drain(f), "r").ok
    node = leader3(bugs=frozenset({"stale-read"}))
    node.submit(ClientRequest("r", "read", "k"))
    rd = drain(node)
    assert reply_for(rd, "r").ok and not [m for m in msgs(rd, "append") if m.context is not None]


def test_messages_round_trip_through_json():
    import json

    from raftnode.core.types import Message, Snapshot

    m = Message(
        kind="snapshot",
        src="n1",
        dst="n2",
        term=3,
        entries=[Entry(3, 7, {"op": "write", "key": "k", "value": [1]})],
        snapshot=Snapshot(6, 2, {"data": {"k": 1}, "sessions": {}}, ("n1", "n2")),
        context={"fid": 1},
    )
    assert Message.from_json(json.loads(json.dumps(m.to_json()))) == m
    with pytest.raises(ValueError, match="unknown message kind"):
        Message.from_json({**m.to_json(), "kind": "nope"})


def test_node_config_rejects_nonsense():
    with pytest.raises(ValueError):
        NodeConfig(election_ticks=5, heartbeat_ticks=5)
    with pytest.raises(ValueError):
        NodeConfig(snapshot_every=0)
