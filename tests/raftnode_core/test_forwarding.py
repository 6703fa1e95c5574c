"""Forwarded writes across restarts: an answer is never relayed to the wrong request, and a
write whose outcome is unknown is answered "timeout" (HTTP 504), never a definite failure.

Regression for a bug that made the correct node look invalid in long harness runs: the
harness seeds every node (`--seed`), the forward nonce came from that seeded rng, so a
restarted follower reused its previous incarnation's (boot, fid) ids."""

from __future__ import annotations

from raftnode.core.types import ClientRequest, Entry

from .helpers import ack_all, drain, elect, make_node, msg, msgs, reply_for


def _follower(seed: int = 7):
    """n1 as a follower of n2 in term 2, seeded like the harness seeds its nodes."""
    node = make_node(term=2, seed=seed)
    node.step(msg("append", "n2", "n1", 2, log_index=0, log_term=0))
    drain(node)
    return node


def test_restarted_follower_uses_fresh_forward_ids():
    first = _follower()
    first.submit(ClientRequest("w1", "write", "k", 1, client_id="c", seq=1))
    old = msgs(drain(first), "forward", "n2")[0]
    again = _follower()  # the same node restarted: same seed, same disk
    again.submit(ClientRequest("w2", "write", "k", 2, client_id="c2", seq=1))
    new = msgs(drain(again), "forward", "n2")[0]
    assert (old.context["boot"], old.context["fid"]) != (new.context["boot"], new.context["fid"])
    # The leader must take the new incarnation's forward, not drop it as a duplicate.
    leader = make_node("n2", term=1, seed=3)
    ack_all(leader, elect(leader))
    for m in (old, new):
        leader.step(msg("forward", "n1", "n2", leader.raft.term, context=m.context))
    rd = drain(leader)
    assert sum(len(m.entries) for m in msgs(rd, "append", "n3")) == 2


def test_answer_for_the_previous_incarnation_is_not_relayed():
    first = _follower()
    first.submit(ClientRequest("w1", "write", "k", 1))
    old = msgs(drain(first), "forward", "n2")[0]
    again = _follower()
    again.submit(ClientRequest("w2", "write", "k", 2))
    drain(again)
    refusal = {"ok": False, "value": None, "error": "not-leader", "leader": "n3", "index": None}
    again.step(msg("forward_resp", "n2", "n1", 2, context={**old.context, "reply": refusal}))
    assert not drain(again).replies  # w2 was not refused: that answer was w1's


def test_replaced_proposal_is_answered_as_unknown():
    """A leader whose own entry was truncated, proposing at that index again later, cannot
    know the old entry is gone from every node (Raft figure 8): "timeout", not a failure."""
    node = make_node(term=1, seed=3)
    ack_all(node, elect(node))  # n1 leads term 2, its no-op at index 1 committed
    term = node.raft.term
    for i in range(3):  # at indexes 2, 3, 4; nobody acknowledges them
        node.submit(ClientRequest(f"w{i}", "write", "k", i))
    drain(node)
    # A leader of the next term replaces index 2 (and so everything after it).
    node.step(
        msg("append", "n3", "n1", term + 1, log_index=1, log_term=term,
            entries=[Entry(term + 1, 2, None)], commit=1)
    )  # fmt: skip
    drain(node)
    assert node.raft.log.last_index() == 2
    elect(node)  # leader again: its no-op lands at 3, the next write at 4, over w2's slot
    node.submit(ClientRequest("new", "write", "k", 9))
    assert reply_for(drain(node), "w2").error == "timeout"
