"""Unit tests of the Raft rules, one hand-made message at a time."""

from __future__ import annotations

from raftnode.core.digest import command_digest
from raftnode.core.types import Entry, Snapshot

from .helpers import ack_all, drain, elect, make_node, msg, msgs

W = {"op": "write", "key": "k", "value": 1}


def test_vote_granted_once_per_term_and_persisted_before_reply():
    node = make_node(term=1)
    node.step(msg("vote", "n2", "n1", 2, log_index=0, log_term=0))
    rd = node.ready()
    assert msgs(rd, "vote_resp")[0].granted
    # The vote is in the same Ready as the reply: the runtime persists it first.
    assert rd.hard_state is not None and rd.hard_state.voted_for == "n2" and rd.hard_state.term == 2
    assert {"ev": "vote", "for": "n2"}.items() <= rd.events[-1].items()
    node.advance(rd)
    node.step(msg("vote", "n3", "n1", 2, log_index=0, log_term=0))
    assert msgs(drain(node), "vote_resp")[0].reject


def test_vote_requires_up_to_date_log():
    node = make_node(term=2, log=[(1, None), (2, W)])
    node.step(msg("vote", "n2", "n1", 3, log_index=5, log_term=1))  # older last term
    assert msgs(drain(node), "vote_resp")[0].reject
    node.step(msg("vote", "n3", "n1", 3, log_index=1, log_term=2))  # same term, shorter
    assert msgs(drain(node), "vote_resp")[0].reject
    node.step(msg("vote", "n3", "n1", 4, log_index=2, log_term=2))
    assert msgs(drain(node), "vote_resp")[0].granted


def test_no_uptodate_check_bug_grants_stale_candidate():
    node = make_node(term=2, log=[(1, None), (2, W)], bugs=frozenset({"no-uptodate-check"}))
    node.step(msg("vote", "n2", "n1", 3, log_index=1, log_term=1))
    assert msgs(drain(node), "vote_resp")[0].granted


def test_forget_vote_bug_hands_storage_no_vote():
    node = make_node(term=1, bugs=frozenset({"forget-vote"}))
    node.step(msg("vote", "n2", "n1", 2, log_index=0, log_term=0))
    rd = drain(node)
    assert msgs(rd, "vote_resp")[0].granted
    assert rd.hard_state is not None and rd.hard_state.term == 2
    assert rd.hard_state.voted_for is None
    assert node.raft.voted_for == "n2"  # it still knows in memory, until a crash


def test_prevote_does_not_change_term_or_vote():
    node = make_node(term=3, log=[(3, None)])
    node.step(msg("prevote", "n2", "n1", 4, log_index=1, log_term=3))
    rd = drain(node)
    resp = msgs(rd, "prevote_resp")[0]
    assert resp.granted and resp.term == 4
    assert node.raft.term == 3 and node.raft.voted_for is None
    assert rd.hard_state is None


def test_follower_hearing_from_leader_ignores_prevote_and_vote():
    node = make_node(term=3)
    node.step(msg("append", "n2", "n1", 3, log_index=0, log_term=0))
    drain(node)
    node.step(msg("prevote", "n3", "n1", 4))
    assert msgs(drain(node), "prevote_resp")[0].reject
    node.step(msg("vote", "n3", "n1", 4))
    assert not drain(node).messages
    assert node.raft.term == 3 and node.raft.leader == "n2"


def test_election_with_prevote_then_vote():
    node = make_node(term=5, log=[(5, None)])
    for _ in range(25):
        node.tick(0)
        rd = drain(node)
        if msgs(rd, "prevote"):
            break
    pre = msgs(rd, "prevote")
    assert {m.dst for m in pre} == {"n2", "n3"}
    assert all(m.term == 6 and m.log_index == 1 and m.log_term == 5 for m in pre)
    assert node.raft.role == "pre-candidate" and node.raft.term == 5
    node.step(msg("prevote_resp", "n2", "n1", 6, granted=True))
    rd = drain(node)
    assert node.raft.role == "candidate" and node.raft.term == 6
    assert rd.hard_state is not None and rd.hard_state.voted_for == "n1"
    assert len(msgs(rd, "vote")) == 2
    node.step(msg("vote_resp", "n3", "n1", 6, granted=True))
    rd = drain(node)
    assert node.raft.role == "leader"
    # The leader's first entry is a no-op of its own term.
    assert rd.entries[-1] == Entry(6, 2, None)


def test_stale_vote_response_is_ignored():
    node = make_node(term=1)
    for _ in range(25):
        node.tick(0)
        if msgs(drain(node), "prevote"):
            break
    node.step(msg("prevote_resp", "n2", "n1", 2, granted=True))
    drain(node)
    assert node.raft.role == "candidate" and node.raft.term == 2
    node.step(msg("vote_resp", "n2", "n1", 1, granted=True))  # from an older term
    drain(node)
    assert node.raft.role == "candidate"


def test_append_mismatch_rejects_with_fast_backup_hints():
    node = make_node(term=3, log=[(1, None), (1, W), (2, W), (2, W), (2, W)])
    node.step(msg("append", "n2", "n1", 3, log_index=5, log_term=3))
    resp = msgs(drain(node), "append_resp")[0]
    assert resp.reject and resp.log_index == 5
    assert (resp.hint_index, resp.hint_term) == (3, 2)  # first index of the conflicting term
    node.step(msg("append", "n2", "n1", 3, log_index=9, log_term=3))
    resp = msgs(drain(node), "append_resp")[0]
    assert resp.reject and (resp.hint_index, resp.hint_term) == (6, 0)  # log too short


def test_append_truncates_only_from_first_conflict():
    node = make_node(term=2, log=[(1, None), (1, W), (2, W)])
    new = {"op": "write", "key": "k", "value": 9}
    node.step(
        msg(
            "append",
            "n2",
            "n1",
            3,
            log_index=1,
            log_term=1,
            entries=[Entry(1, 2, W), Entry(3, 3, new)],
        )
    )
    rd = drain(node)
    assert msgs(rd, "append_resp")[0].match_index == 3
    assert [e.index for e in rd.entries] == [3]  # storage cuts at 3 and writes the new one
    assert node.raft.log.term_at(2) == 1 and node.raft.log.term_at(3) == 3
    truncs = [e for e in rd.events if e["ev"] == "truncate"]
    assert [t["from_index"] for t in truncs] == [3]
    appended = [e for e in rd.events if e["ev"] == "append"]
    assert appended[0]["digest"] == command_digest(new)


def test_stale_append_does_not_truncate():
    node = make_node(term=1, log=[(1, None), (1, W), (1, W)])
    node.step(msg("append", "n2", "n1", 1, log_index=0, log_term=0, entries=[Entry(1, 1, None)]))
    rd = drain(node)
    assert node.raft.log.last_index() == 3
    assert not rd.entries
    assert msgs(rd, "append_resp")[0].match_index == 1


def test_bad_truncate_bug_cuts_after_stale_append():
    node = make_node(term=1, log=[(1, None), (1, W), (1, W)], bugs=frozenset({"bad-truncate"}))
    node.step(msg("append", "n2", "n1", 1, log_index=0, log_term=0, entries=[Entry(1, 1, None)]))
    drain(node)
    assert node.raft.log.last_index() == 1


def test_follower_commit_capped_by_what_was_verified():
    node = make_node(term=1, log=[(1, None), (1, W), (1, W)])
    node.step(msg("append", "n2", "n1", 1, log_index=1, log_term=1, commit=3))
    drain(node)
    assert node.raft.commit == 1  # entries 2-3 were not verified by this message
    node.step(msg("append", "n2", "n1", 1, log_index=3, log_term=1, commit=3))
    drain(node)
    assert node.raft.commit == 3 and node.applied == 3


def test_leader_commits_only_current_term_entries():
    node = make_node(term=2, log=[(1, None), (2, W)])
    elect(node)
    term = node.raft.term
    assert node.raft.log.last_index() == 3
    node.step(msg("append_resp", "n2", "n1", term, match_index=2, log_index=2))
    drain(node)
    assert node.raft.commit == 0  # index 2 is from term 2: counting replicas is not enough
    node.step(msg("append_resp", "n2", "n1", term, match_index=3, log_index=2))
    drain(node)
    assert node.raft.commit == 3


def test_figure8_bug_commits_old_term_entry_by_counting():
    node = make_node(term=2, log=[(1, None), (2, W)], bugs=frozenset({"figure8"}))
    elect(node)
    node.step(msg("append_resp", "n2", "n1", node.raft.term, match_index=2, log_index=2))
    drain(node)
    assert node.raft.commit == 2


def test_leader_counts_itself_only_once_persisted():
    node = make_node(peers=("n1",))
    for _ in range(40):
        node.tick(0)
        drain(node)
    assert node.raft.role == "leader"
    from raftnode.core.types import ClientRequest

    node.submit(ClientRequest("h1", "write", "k", 1))
    rd = node.ready()
    assert rd.entries and not rd.replies
    assert node.raft.commit == 1  # the write (index 2) waits for this Ready to be durable
    node.advance(rd)
    rd = drain(node)
    assert node.raft.commit == 2 and rd.replies[0].ok and rd.replies[0].index == 2


def test_fast_backup_on_the_leader():
    terms = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6]
    node = make_node(term=6, log=[(t, W) for t in terms])
    elect(node)
    pr = node.raft.progress["n2"]
    term = node.raft.term
    nxt = pr.next
    # Follower has term 4 at the probed index: leader jumps to after its own last term-4 entry.
    node.step(
        msg(
            "append_resp",
            "n2",
            "n1",
            term,
            reject=True,
            log_index=nxt - 1,
            hint_index=4,
            hint_term=4,
        )
    )
    rd = drain(node)
    assert pr.next == 6
    assert msgs(rd, "append", "n2")[-1].log_index == 5
    # Follower's conflicting term 2 is unknown to the leader: jump to the hint index.
    node.step(
        msg("append_resp", "n2", "n1", term, reject=True, log_index=5, hint_index=2, hint_term=2)
    )
    drain(node)
    assert pr.next == 2
    # A stale rejection (for an index we no longer probe) is ignored.
    node.step(
        msg("append_resp", "n2", "n1", term, reject=True, log_index=9, hint_index=1, hint_term=0)
    )
    drain(node)
    assert pr.next == 2


def test_leader_steps_down_on_higher_term():
    node = make_node()
    elect(node)
    node.step(msg("append_resp", "n2", "n1", node.raft.term + 3, reject=True))
    rd = drain(node)
    assert node.raft.role == "follower" and node.raft.term >= 4
    assert any(e["ev"] == "role" and e["role"] == "follower" for e in rd.events)


def test_stale_leader_is_told_about_newer_term():
    node = make_node(term=5)
    node.step(msg("append", "n2", "n1", 3, log_index=0, log_term=0))
    resp = msgs(drain(node), "append_resp")[0]
    assert resp.term == 5 and resp.reject


def test_appends_are_batched_and_capped():
    node = make_node(max_append_entries=4)
    rd = elect(node)
    rd = ack_all(node, rd)
    from raftnode.core.types import ClientRequest

    for i in range(10):
        node.submit(ClientRequest(f"h{i}", "write", "k", i))
    rd = drain(node)
    to_n2 = msgs(rd, "append", "n2")
    assert to_n2 and all(len(m.entries) <= 4 for m in to_n2)
    sent = sorted(e.index for m in to_n2 for e in m.entries)
    assert sent == list(range(sent[0], sent[0] + len(sent)))  # no gaps, pipelined
    assert len(to_n2) < 10  # batched: not one message per proposal


def test_install_snapshot_replaces_divergent_log():
    node = make_node(term=1, log=[(1, None), (1, W)])
    snap = Snapshot(10, 2, {"data": {"k": 42}, "sessions": {}}, ("n1", "n2", "n3"))
    node.step(msg("snapshot", "n2", "n1", 2, snapshot=snap, commit=10))
    rd = drain(node)
    assert rd.snapshot == snap and rd.compact_to == 0
    assert node.applied == 10 and node.raft.commit == 10 and node.kv.read("k") == 42
    assert node.raft.log.last_index() == 10 and node.raft.log.last_term() == 2
    assert msgs(rd, "snapshot_resp")[0].match_index == 10
    # The next append continues after the snapshot.
    node.step(
        msg("append", "n2", "n1", 2, log_index=10, log_term=2, entries=[Entry(2, 11, W)], commit=11)
    )
    drain(node)
    assert node.applied == 11 and node.kv.read("k") == 1


def test_leader_sends_snapshot_to_follower_behind_compaction():
    from raftnode.core.types import ClientRequest

    node = make_node(snapshot_every=5)
    ack_all(node, elect(node), to="n3")
    for i in range(12):
        node.submit(ClientRequest(f"h{i}", "write", "k", i))
        # only n3 acknowledges; n2 is silent and falls behind
        ack_all(node, drain(node), to="n3")
    assert node.raft.log.offset >= 5
    # n2 finally answers the first probe (the no-op); what follows is compacted away.
    node.step(msg("append_resp", "n2", "n1", node.raft.term, match_index=1, log_index=0))
    rd = drain(node)
    snaps = msgs(rd, "snapshot", "n2")
    assert snaps and snaps[0].snapshot.index == node.raft.log.offset
    assert snaps[0].snapshot.data["data"]["k"] >= 4
    node.step(msg("snapshot_resp", "n2", "n1", node.raft.term, match_index=snaps[0].snapshot.index))
    rd = drain(node)
    follow = msgs(rd, "append", "n2")
    assert follow and follow[0].log_index == snaps[0].snapshot.index


def test_check_quorum_leader_steps_down_when_cut_off():
    node = make_node()
    elect(node)
    for _ in range(25):
        node.tick(0)
        drain(node)
    assert node.raft.role != "leader" and node.raft.leader is None


def test_idle_follower_learns_new_commit_without_waiting_for_heartbeat():
    from raftnode.core.types import ClientRequest

    node = make_node(election_ticks=50, heartbeat_ticks=40)
    rd = ack_all(node, elect(node))
    node.submit(ClientRequest("w", "write", "k", 1))
    rd = drain(node)
    rd = ack_all(node, rd, to="n2")
    assert node.raft.commit == 2
    to_n2 = msgs(rd, "append", "n2")
    assert [(x.commit, x.entries) for x in to_n2] == [(2, [])]
    assert not msgs(rd, "append", "n3")  # n3 has not stored index 2: nothing to tell yet
