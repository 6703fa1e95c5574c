"""Raft safety checker on hand-built event logs: clean runs and each violation kind."""

from __future__ import annotations

import json
from pathlib import Path

from checkers.events import load_evidence
from checkers.raft_safety import PROPERTIES, LogEntry, NodeLog, check_events
from tests.checkers_safety.builders import EventLog, clean_cluster, cmd, digest, final_dump


def _check(log: EventLog, tmp_path: Path, **kw):
    return check_events(log.write(tmp_path, **kw))


def _by_property(result, prop: str) -> list[dict]:
    return [v for v in result.violations if v["property"] == prop]


def _cited_event(where: str) -> dict:
    """Read back the event a violation cites as file:line."""
    path, line = where.rsplit(":", 1)
    return json.loads(Path(path).read_text().splitlines()[int(line) - 1])


def test_clean_cluster_is_valid(tmp_path):
    result = _check(clean_cluster(), tmp_path)
    assert result.valid is True, result.violations
    assert result.details["nodes"] == ["n1", "n2", "n3"]
    assert result.details["terms_with_leader"] == 2
    assert result.details["applied_indexes"] == 4
    assert all(p["valid"] for p in result.details["properties"].values())
    assert set(result.details["properties"]) == set(PROPERTIES)


def test_two_leaders_in_one_term(tmp_path):
    log = clean_cluster()
    line = log.add("n3", 2, "role", role="leader")
    result = _check(log, tmp_path)
    found = _by_property(result, "election-safety")
    assert result.valid is False and len(found) == 1
    assert found[0]["term"] == 2 and found[0]["nodes"] == ["n2", "n3"]
    assert any(w.endswith(f"n3/events.jsonl:{line}") for w in found[0]["events"])
    for where in found[0]["events"]:
        assert _cited_event(where)["role"] == "leader"


def test_double_vote_in_one_term(tmp_path):
    log = clean_cluster()
    log.add("n3", 2, "vote", for_="n1")
    result = _check(log, tmp_path)
    found = _by_property(result, "vote-durability")
    assert len(found) == 1 and "voted twice" in found[0]["message"]
    assert [_cited_event(w)["for"] for w in found[0]["events"]] == ["n2", "n1"]


def test_same_index_and_term_different_digest(tmp_path):
    log = clean_cluster()
    log.add("n3", 2, "append", index=4, entry_term=2, digest=digest(cmd(99)))
    result = _check(log, tmp_path)
    found = _by_property(result, "log-matching")
    assert result.valid is False and found
    assert found[0]["indexes"] == [4] and found[0]["term"] == 2
    assert {_cited_event(w)["digest"] for w in found[0]["events"]} == {
        digest(cmd(3)),
        digest(cmd(99)),
    }


def test_same_entry_different_prefix(tmp_path):
    log = EventLog()
    for node in ("n1", "n2"):
        log.add(node, 1, "append", index=1, entry_term=1, digest="a1")
    log.add("n1", 2, "append", index=2, entry_term=1, digest="b1")
    log.add("n2", 2, "append", index=2, entry_term=2, digest="b2")
    log.add("n1", 2, "append", index=3, entry_term=2, digest="c2")
    log.add("n2", 2, "append", index=3, entry_term=2, digest="c2")
    result = _check(log, tmp_path)
    found = _by_property(result, "log-matching")
    assert len(found) == 1 and "different prefixes" in found[0]["message"]
    assert found[0]["indexes"] == [2, 3] and found[0]["nodes"] == ["n1", "n2"]


def test_leader_truncates_own_log(tmp_path):
    log = clean_cluster()
    line = log.add("n2", 2, "truncate", from_index=5)
    log.append("n2", 2, 5, 2, cmd(5))  # extend first so the truncate removes something
    result = _check(log, tmp_path)
    assert _by_property(result, "leader-append-only") == []  # nothing was removed yet

    log = clean_cluster()
    log.append("n2", 2, 5, 2, cmd(5))
    line = log.add("n2", 2, "truncate", from_index=5)
    result = _check(log, tmp_path / "second")
    found = _by_property(result, "leader-append-only")
    assert len(found) == 1 and found[0]["nodes"] == ["n2"] and found[0]["term"] == 2
    assert found[0]["indexes"] == [5]
    assert found[0]["events"][0].endswith(f"n2/events.jsonl:{line}")


def test_leader_overwrites_own_entry(tmp_path):
    log = clean_cluster()
    log.append("n2", 2, 5, 2, cmd(5))
    log.append("n2", 2, 5, 2, cmd(6))
    result = _check(log, tmp_path)
    assert len(_by_property(result, "leader-append-only")) == 1


def test_follower_truncation_of_uncommitted_entries_is_fine(tmp_path):
    """The clean run already truncates on n1 after restart; a stepped-down leader may too."""
    log = clean_cluster()
    log.append("n2", 2, 5, 2, cmd(5))
    log.add("n2", 3, "role", role="follower")
    log.add("n2", 3, "truncate", from_index=5)
    result = _check(log, tmp_path)
    assert result.valid is True, result.violations


def test_new_leader_missing_committed_entry(tmp_path):
    log = EventLog()
    for node in ("n1", "n2"):
        log.append(node, 1, 1, 1, None)
        log.append(node, 1, 2, 1, cmd(1))
        log.add(node, 1, "commit", index=2)
    log.add("n1", 1, "role", role="leader")
    log.append("n3", 1, 1, 1, None)
    elected = log.add("n3", 3, "role", role="leader")
    result = _check(log, tmp_path)
    found = _by_property(result, "leader-completeness")
    assert len(found) == 1 and found[0]["term"] == 3 and found[0]["indexes"] == [2]
    assert found[0]["events"][0].endswith(f"n3/events.jsonl:{elected}")
    assert "n3" in found[0]["nodes"]


def test_leader_completeness_ignores_commits_known_only_later(tmp_path):
    """An entry first known committed in term 3 says nothing about the leader of term 2."""
    log = EventLog()
    log.append("n3", 2, 1, 1, cmd(1))
    log.add("n3", 2, "role", role="leader")
    log.append("n1", 3, 1, 2, cmd(2))
    log.add("n1", 3, "commit", index=1)
    result = _check(log, tmp_path)
    assert _by_property(result, "leader-completeness") == []


def test_different_entries_applied_at_one_index(tmp_path):
    log = clean_cluster()
    log.apply("n3", 2, 4, 3, cmd(42))
    result = _check(log, tmp_path)
    found = _by_property(result, "state-machine-safety")
    assert len(found) == 1 and found[0]["indexes"] == [4]
    assert "n3" in found[0]["nodes"] and len(found[0]["nodes"]) >= 2
    assert {_cited_event(w)["entry_term"] for w in found[0]["events"]} == {2, 3}


def test_committed_entry_removed_by_follower(tmp_path):
    log = clean_cluster()
    log.add("n3", 2, "truncate", from_index=2)
    result = _check(log, tmp_path)
    found = _by_property(result, "state-machine-safety")
    assert len(found) == 1 and "removed committed" in found[0]["message"]
    assert found[0]["indexes"] == [2, 3, 4]


def test_restart_losing_committed_entries(tmp_path):
    log = clean_cluster()
    log.add("n3", 0, "start", last_index=1, commit=1)
    result = _check(log, tmp_path)
    found = _by_property(result, "state-machine-safety")
    assert len(found) == 1 and found[0]["indexes"] == [2, 3, 4]
    assert "n3 restarted without committed entries 2..4" in found[0]["message"]


def test_restart_losing_uncommitted_entries_only_warns(tmp_path):
    log = clean_cluster()
    log.append("n3", 2, 5, 2, cmd(5))
    log.add("n3", 0, "start", last_index=4, commit=4)
    result = _check(log, tmp_path)
    assert result.valid is True
    assert any("restarted without entries 5..5" in w for w in result.warnings)


def test_torn_last_line_is_a_warning(tmp_path):
    result = _check(clean_cluster(), tmp_path, torn={"n2": '{"t": 1, "node": "n2", "te'})
    assert result.valid is True
    assert any("truncated last line" in w and "n2" in w for w in result.warnings)


def test_torn_file_still_reports_violations(tmp_path):
    log = clean_cluster()
    log.add("n3", 2, "role", role="leader")
    result = _check(log, tmp_path, torn={"n3": '{"ev": "app'})
    assert result.valid is False and _by_property(result, "election-safety")


def test_dumps_agree_with_events(tmp_path):
    nodes = clean_cluster().write(tmp_path)
    entries = [(1, 1, None), (2, 1, cmd(1)), (3, 2, None), (4, 2, cmd(3))]
    for node in ("n1", "n3"):
        dump = final_dump(entries, term=2, commit=4)
        (nodes / node / "dump.json").write_text(json.dumps(dump))
    result = check_events(nodes)
    assert result.valid is True, result.violations
    assert result.details["dumps"] == ["n1", "n3"]


def test_dump_with_divergent_committed_entry(tmp_path):
    nodes = clean_cluster().write(tmp_path)
    bad = final_dump([(1, 1, None), (2, 1, cmd(7))], term=2, commit=2)
    (nodes / "n3" / "dump.json").write_text(json.dumps(bad))
    result = check_events(nodes)
    assert result.valid is False
    assert _by_property(result, "log-matching")
    smsafety = _by_property(result, "state-machine-safety")
    assert smsafety and smsafety[0]["indexes"] == [2]
    assert any("dump.json" in w for w in smsafety[0]["events"])


def test_snapshot_installed_on_empty_follower_counts_as_containing(tmp_path):
    """A leader whose prefix is compacted into a snapshot is not missing entries."""
    log = EventLog()
    for node in ("n1", "n2"):
        log.append(node, 1, 1, 1, cmd(1))
        log.add(node, 1, "commit", index=1)
    log.add("n3", 1, "snapshot", index=1, entry_term=1)
    log.add("n3", 2, "role", role="leader")
    result = _check(log, tmp_path)
    assert result.valid is True, result.violations


def test_node_log_reconstruction():
    log = NodeLog()
    for i in range(1, 6):
        log.put(i, LogEntry(1, f"d{i}", f"x:{i}"))
    assert log.last_index == 5
    removed = log.truncate(4)
    assert [i for i, _ in removed] == [4, 5] and log.last_index == 3
    displaced = log.put(2, LogEntry(2, "other", "x:9"))
    assert displaced is not None and displaced.digest == "d2" and log.last_index == 2
    log.snapshot(2, 2)
    assert log.base == 2 and log.last_index == 2 and log.term_at(2) == 2
    log.restart(4)
    assert log.last_index == 4 and log.entry(3) is None
    log.snapshot(10, 3)  # installed snapshot that does not match: replaces the log
    assert log.base == 10 and log.last_index == 10


def test_load_evidence_layouts(tmp_path):
    clean_cluster().write(tmp_path)
    from_store = load_evidence(tmp_path)
    from_nodes = load_evidence(tmp_path / "nodes")
    one_node = load_evidence(tmp_path / "nodes" / "n1")
    assert sorted(from_store.events) == sorted(from_nodes.events) == ["n1", "n2", "n3"]
    assert list(one_node.events) == ["n1"]


def test_follower_installing_snapshot_may_drop_committed_prefix(tmp_path):
    """raftnode installs a leader's snapshot as truncate(1), snapshot, commit: the
    committed entries it drops are inside the snapshot, so nothing is lost."""
    log = clean_cluster()
    log.add("n3", 2, "truncate", from_index=1)
    log.add("n3", 2, "snapshot", index=6, entry_term=2)
    log.add("n3", 2, "commit", index=6)
    assert _check(log, tmp_path).valid is True
    log.add("n1", 2, "truncate", from_index=1)  # the same without a snapshot: a loss
    result = _check(log, tmp_path / "again")
    assert [v["nodes"] for v in _by_property(result, "state-machine-safety")] == [["n1"]]
