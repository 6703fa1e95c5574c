"""The single-event Raft rules (checkers/raft_safety.RULES) on hand-built event logs in
raftnode's current format: for each rule, a sequence that breaks it (and is reported with
node, term, index and the cited lines) and the nearest correct sequence, which must not."""

from __future__ import annotations

import json
from pathlib import Path

from checkers.raft_safety import RULES, check_events
from tests.checkers_safety.builders import EventLog, clean_cluster, cmd


def _check(log: EventLog, tmp_path: Path):
    return check_events(log.write(tmp_path))


def _rule(result, rule: str) -> list[dict]:
    return [v for v in result.violations if v["property"] == rule]


def _cited(where: str) -> dict:
    path, line = where.rsplit(":", 1)
    return json.loads(Path(path).read_text().splitlines()[int(line) - 1])


def _vote(log: EventLog, node: str, term: int, cand: str, cand_log=(0, 0), own_log=(0, 0)) -> int:
    return log.add(
        node,
        term,
        "vote",
        for_=cand,
        cand_last_index=cand_log[0],
        cand_last_term=cand_log[1],
        last_log_index=own_log[0],
        last_log_term=own_log[1],
    )


def _start(log: EventLog, node: str, term: int, voted_for: str | None, last=0, commit=0) -> int:
    return log.add(
        node, term, "start", last_index=last, last_term=0, commit=commit, voted_for=voted_for
    )


# -- vote durability ----------------------------------------------------------------------
def test_vote_forgotten_across_a_restart_is_reported(tmp_path):
    log = EventLog()
    _start(log, "n1", 0, None)
    _vote(log, "n1", 3, "n2")
    restart = _start(log, "n1", 3, None, last=2, commit=1)  # term kept, vote lost
    result = _check(log, tmp_path)
    found = _rule(result, "vote-durability")
    assert result.valid is False and len(found) == 1
    v = found[0]
    assert v["nodes"] == ["n1"] and v["term"] == 3
    assert "not durable" in v["message"] and "votedFor None" in v["message"]
    assert v["events"][-1].endswith(f"n1/events.jsonl:{restart}")


def test_second_vote_in_a_term_after_restart_is_reported(tmp_path):
    log = EventLog()
    _vote(log, "n1", 3, "n2")
    restart = log.add("n1", 3, "start", last_index=0, commit=0)  # older format: no voted_for
    _vote(log, "n1", 3, "n3")
    found = _rule(_check(log, tmp_path), "vote-durability")
    assert len(found) == 1 and "voted twice in term 3" in found[0]["message"]
    assert "across a restart" in found[0]["message"]
    assert [_cited(w)["ev"] for w in found[0]["events"]] == ["vote", "start", "vote"]
    assert found[0]["events"][1].endswith(f":{restart}")


def test_vote_kept_across_restart_and_new_term_votes_are_fine(tmp_path):
    log = EventLog()
    _vote(log, "n1", 3, "n2")
    _start(log, "n1", 3, "n2", last=2, commit=1)  # recovered exactly
    _vote(log, "n1", 3, "n2")  # the same candidate again (a retried RequestVote)
    _vote(log, "n1", 4, "n3")
    _start(log, "n1", 5, None)  # a later term without a vote is newer than term 4's vote
    result = _check(log, tmp_path)
    assert _rule(result, "vote-durability") == []
    assert result.details["rules"]["vote-durability"]["checked"] is True


def test_restart_below_the_term_already_reached_is_reported(tmp_path):
    log = EventLog()
    _start(log, "n1", 0, None)
    reached = log.add("n1", 7, "role", role="follower")  # term 7 was durable before this line
    restart = _start(log, "n1", 6, None, last=3, commit=2)
    found = _rule(_check(log, tmp_path), "vote-durability")
    assert len(found) == 1 and "currentTerm was not durable" in found[0]["message"]
    assert found[0]["term"] == 7 and found[0]["nodes"] == ["n1"]
    assert [w.rsplit(":", 1)[1] for w in found[0]["events"]] == [str(reached), str(restart)]


def test_restart_in_the_term_reached_is_fine(tmp_path):
    log = EventLog()
    _start(log, "n1", 0, None)
    log.add("n1", 7, "role", role="follower")
    _start(log, "n1", 7, None, last=3, commit=2)
    log.add("n1", 7, "role", role="follower")
    log.add("n1", 0, "start", last_index=3, commit=2)  # older format: term not judged
    assert _rule(_check(log, tmp_path), "vote-durability") == []


def test_restart_on_an_empty_disk_is_only_a_warning(tmp_path):
    log = EventLog()
    _vote(log, "n1", 3, "n2")
    _start(log, "n1", 0, None)  # the disk was wiped (a nemesis), not a forgotten vote
    result = _check(log, tmp_path)
    assert _rule(result, "vote-durability") == []
    assert any("empty disk" in w for w in result.warnings)


# -- up-to-date vote ------------------------------------------------------------------------
def test_vote_for_a_less_up_to_date_candidate_is_reported(tmp_path):
    log = EventLog()
    # The candidate's last term is older, though its log is longer: less up to date.
    line = _vote(log, "n2", 5, "n3", cand_log=(9, 2), own_log=(4, 3))
    found = _rule(_check(log, tmp_path), "up-to-date-vote")
    assert len(found) == 1
    v = found[0]
    assert v["nodes"] == ["n2", "n3"] and v["term"] == 5 and v["indexes"] == [4]
    assert "less up to date" in v["message"] and v["events"][0].endswith(f":{line}")


def test_shorter_log_same_last_term_is_reported_too(tmp_path):
    log = EventLog()
    _vote(log, "n2", 5, "n3", cand_log=(3, 3), own_log=(4, 3))
    assert len(_rule(_check(log, tmp_path), "up-to-date-vote")) == 1


def test_votes_for_up_to_date_candidates_are_fine(tmp_path):
    log = EventLog()
    _vote(log, "n2", 5, "n3", cand_log=(4, 3), own_log=(4, 3))  # equal
    _vote(log, "n4", 5, "n3", cand_log=(2, 4), own_log=(9, 3))  # newer last term wins
    _vote(log, "n3", 5, "n3", cand_log=(4, 3), own_log=(4, 3))  # itself
    log.add("n5", 5, "vote", for_="n3")  # older format: not judged, not a violation
    result = _check(log, tmp_path)
    assert _rule(result, "up-to-date-vote") == []
    assert result.details["rules"]["up-to-date-vote"]["events_judged"] == 2


# -- current-term commit ----------------------------------------------------------------------
def _leader(log: EventLog, node: str, term: int) -> None:
    log.add(node, term, "role", role="leader")


def test_leader_committing_an_older_term_entry_is_reported(tmp_path):
    log = EventLog()
    _leader(log, "n1", 4)
    log.append("n1", 4, 2, 2, cmd(1))  # an entry of term 2, re-replicated by the term-4 leader
    line = log.add("n1", 4, "commit", index=2, entry_term=2, leader_term=4)
    found = _rule(_check(log, tmp_path), "current-term-commit")
    assert len(found) == 1
    v = found[0]
    assert v["nodes"] == ["n1"] and v["term"] == 4 and v["indexes"] == [2]
    assert "entry of term 2" in v["message"] and v["events"] == [v["events"][0]]
    assert _cited(v["events"][0])["ev"] == "commit" and v["events"][0].endswith(f":{line}")


def test_commit_onto_a_current_term_entry_and_follower_commits_are_fine(tmp_path):
    log = EventLog()
    _leader(log, "n1", 4)
    log.append("n1", 4, 2, 2, cmd(1))
    log.append("n1", 4, 3, 4, None)  # its no-op
    log.add("n1", 4, "commit", index=3, entry_term=4, leader_term=4)  # covers 2 as well
    log.add("n2", 4, "commit", index=2, entry_term=2)  # a follower learning commit 2
    result = _check(log, tmp_path)
    assert _rule(result, "current-term-commit") == []
    assert result.details["rules"]["current-term-commit"]["events_judged"] == 1


# -- committed entry removed -------------------------------------------------------------------
def test_truncating_below_the_own_commit_index_is_reported(tmp_path):
    log = EventLog()
    for i in (1, 2, 3):
        log.append("n2", 1, i, 1, cmd(i))
    log.add("n2", 1, "commit", index=3, entry_term=1)
    line = log.add(
        "n2", 1, "truncate", from_index=2, removed=[[2, 1], [3, 1]], removed_count=2, commit=3
    )
    found = _rule(_check(log, tmp_path), "committed-entry-removed")
    assert len(found) == 1
    v = found[0]
    assert v["nodes"] == ["n2"] and v["term"] == 1 and v["indexes"] == [2, 3]
    assert "commit index was 3" in v["message"] and v["events"][0].endswith(f":{line}")


def test_removing_an_entry_the_cluster_knew_committed_is_reported(tmp_path):
    """n3 never learnt the commit, but n1 knew index 2 term 1 committed in term 1."""
    log = EventLog()
    for node in ("n1", "n3"):
        log.append(node, 1, 1, 1, cmd(1))
        log.append(node, 1, 2, 1, cmd(2))
    known = log.add("n1", 1, "commit", index=2, entry_term=1, leader_term=1)
    line = log.add("n3", 2, "truncate", from_index=2, removed=[[2, 1]], removed_count=1, commit=1)
    found = _rule(_check(log, tmp_path), "committed-entry-removed")
    assert len(found) == 1
    v = found[0]
    assert v["nodes"] == ["n1", "n3"] and v["indexes"] == [2] and v["term"] == 2
    assert v["events"][0].endswith(f"n1/events.jsonl:{known}")
    assert v["events"][1].endswith(f"n3/events.jsonl:{line}")


def test_removing_an_uncommitted_or_differently_termed_entry_is_fine(tmp_path):
    log = EventLog()
    for node in ("n1", "n3"):
        log.append(node, 1, 1, 1, cmd(1))
    log.append("n1", 2, 2, 2, cmd(2))
    log.add("n1", 2, "commit", index=2, entry_term=2, leader_term=2)
    log.append("n3", 1, 2, 1, cmd(9))  # term 1 at index 2: never committed
    log.add("n3", 2, "truncate", from_index=2, removed=[[2, 1]], removed_count=1, commit=1)
    log.append("n3", 2, 2, 2, cmd(2))
    result = _check(log, tmp_path)
    assert _rule(result, "committed-entry-removed") == []
    assert result.details["rules"]["committed-entry-removed"]["checked"] is True


# -- old event files ----------------------------------------------------------------------------
def test_old_format_events_leave_the_rules_unchecked_not_violated(tmp_path):
    result = _check(clean_cluster(), tmp_path)
    assert result.valid is True, result.violations
    rules = result.details["rules"]
    assert set(rules) == set(RULES)
    for rule in ("up-to-date-vote", "current-term-commit", "committed-entry-removed"):
        assert rules[rule]["checked"] is False and rules[rule]["valid"] == "unknown"
        assert rules[rule]["reason"]
    assert "all five Raft safety properties hold" in result.summary
