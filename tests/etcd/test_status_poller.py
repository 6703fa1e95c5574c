"""The status poller turns probes into raftnode-style events, and the Raft safety
checker says which properties such evidence can and cannot check."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from checkers.composite import check_history, summary_text
from checkers.raft_safety import PROPERTIES, check_events
from harness.core.protocols import Probe
from harness.dbs.null import NullDB
from harness.status_poller import (
    StatusPoller,
    _NodeTrack,
    events_for,
    start_status_poller,
    stop_status_poller,
)
from nemeses.base import wait_until
from tests.checkers_safety.builders import History, clean_cluster


def test_only_changes_become_events():
    track = _NodeTrack()
    leader = Probe("n1", True, role="leader", term=2, commit_index=5, raw={"voted_for": "n1"})
    first = events_for("n1", leader, track, 1)
    assert [e["ev"] for e in first] == ["role", "vote", "commit"]
    assert first[0] == {"t": 1, "node": "n1", "term": 2, "ev": "role", "role": "leader"}
    assert events_for("n1", leader, track, 2) == []  # nothing changed
    assert events_for("n1", Probe("n1", False), track, 3) == []  # no answer, no evidence
    later = Probe("n1", True, role="follower", term=3, commit_index=4, raw={"voted_for": "n2"})
    assert [
        (e["ev"], e.get("role") or e.get("for")) for e in events_for("n1", later, track, 4)
    ] == [
        ("role", "follower"),
        ("vote", "n2"),
    ]  # a commit index never goes back


@dataclass
class ScriptedDB:
    """Each node answers the probes scripted for it, then repeats the last one."""

    script: dict[str, list[Probe]]
    name: str = "scripted"
    poll_status: bool = True
    evidence_limits: dict[str, str] = field(
        default_factory=lambda: {"log-matching": "scripted DBs keep no log"}
    )
    asked: dict[str, int] = field(default_factory=dict)

    def probe(self, node: str, timeout: float = 1.0) -> Probe:
        n = self.asked[node] = self.asked.get(node, 0) + 1
        answers = self.script[node]
        return answers[min(n, len(answers)) - 1]

    def version(self) -> str:
        return "9.9"


def poll(db, tmp_path: Path, samples: int = 3) -> Path:
    ctx = SimpleNamespace(db=db, nodes=sorted(db.script), store_dir=tmp_path)
    poller = start_status_poller(ctx, interval_s=0.01)
    assert poller is not None
    assert wait_until(lambda: all(db.asked.get(n, 0) >= samples for n in ctx.nodes), 10.0)
    stop_status_poller(poller)
    stop_status_poller(poller)  # idempotent
    return tmp_path / "nodes"


def test_two_sampled_leaders_in_one_term_are_a_violation(tmp_path):
    leader = lambda n: Probe(n, True, role="leader", term=4, leader=n)  # noqa: E731
    db = ScriptedDB({"n1": [leader("n1")], "n2": [leader("n2")], "n3": [Probe("n3", False)]})
    nodes_dir = poll(db, tmp_path)
    assert json.loads((tmp_path / "db.json").read_text()) == {"name": "scripted", "version": "9.9"}
    result = check_events(nodes_dir)
    assert result.valid is False
    assert "2 leaders in term 4" in result.violations[0]["message"]


def test_polled_evidence_checks_election_safety_only_and_says_why(tmp_path):
    db = ScriptedDB(
        {
            "n1": [
                Probe("n1", True, role="follower", term=1),
                Probe("n1", True, role="leader", term=2, commit_index=3),
            ],
            "n2": [Probe("n2", True, role="follower", term=2, leader="n1", commit_index=3)],
        }
    )
    result = check_events(poll(db, tmp_path))
    props = result.details["properties"]
    assert result.valid is True
    assert props["election-safety"] == {
        "checked": True,
        "valid": True,
        "violations": 0,
        "note": "from status samples every 0.01 s: a leadership shorter than that can be missed",
    }
    assert props["log-matching"]["reason"] == "scripted DBs keep no log"  # the DB's reason
    assert props["leader-completeness"]["reason"].startswith("no committed entries")  # generic
    for prop in PROPERTIES[1:]:
        assert props[prop]["checked"] is False and props[prop]["valid"] == "unknown"
    assert (
        "election-safety holds" in result.summary and "not checked: log-matching" in result.summary
    )
    assert "all five" not in result.summary


def test_full_raftnode_evidence_checks_everything(tmp_path):
    result = check_events(clean_cluster().write(tmp_path))
    assert result.details["not_checked"] == {}
    assert all(e["checked"] for e in result.details["properties"].values())
    assert "all five Raft safety properties hold" in result.summary


def test_results_without_node_evidence_say_nothing_was_checked():
    history = History().op(0, "write", 1).op(1, "read", result=1)
    results = check_history(history.ops, workload="register")
    assert results["safety"]["checked"] == []
    assert set(results["safety"]["not_checked"]) == set(PROPERTIES)
    assert "raft safety not checked: no node events or log dumps were collected" in summary_text(
        results
    )


def test_the_null_db_polled_through_the_real_poller(tmp_path):
    db = NullDB()
    db.setup(["n1", "n2"], {})
    for node in ("n1", "n2"):
        db.start(node)
    poller = StatusPoller(db, ["n1", "n2"], tmp_path, interval_s=0.01).start()
    assert wait_until(lambda: poller.tracks["n2"].probes >= 3, 10.0)
    db.kill("n2")
    counts = poller.stop()
    assert counts["n1"]["events"] >= 1 and counts["n1"]["answered"] == counts["n1"]["probes"]
    first = json.loads((tmp_path / "n1" / "events.jsonl").read_text().splitlines()[0])
    assert (first["ev"], first["role"], first["term"]) == ("role", "leader", 1)
