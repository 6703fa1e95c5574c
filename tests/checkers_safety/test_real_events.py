"""The Raft safety checker on events and dumps written by real raftnode processes.

Why: hand-built logs only test our reading of the contract; this checks that a correct
cluster's actual output (restarts, snapshots, installs) is judged valid."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from checkers.raft_safety import check_events
from raftnode import testing

pytestmark = [pytest.mark.process, pytest.mark.slow]


def test_clean_cluster_with_leader_crash_is_valid(tmp_path):
    root = tmp_path / "nodes"
    with testing.LoopbackCluster(root, n=3, extra_args=["--snapshot-every", "20"]) as cluster:
        for name in cluster.nodes:
            cluster.wait_ready(name, timeout=60)
        leader = cluster.wait_leader(timeout=60)
        for i in range(30):
            code, _ = cluster.kv_retry({"op": "write", "key": "k", "value": i}, timeout=60)
            assert code == 200
        cluster.kill(leader)
        for i in range(30, 50):
            cluster.kv_retry({"op": "append", "key": "l", "value": i}, timeout=60)
        cluster.start(leader)
        cluster.wait_ready(leader, timeout=60)
        cluster.wait_leader(timeout=60)
        cluster.kv_retry({"op": "write", "key": "k", "value": "last"}, timeout=60)
    for name in ("n1", "n2", "n3"):
        dump = subprocess.run(
            [sys.executable, "-m", "raftnode", "dump", str(root / name), "--json"],
            capture_output=True, text=True, timeout=60, cwd=testing.REPO_ROOT,
        )  # fmt: skip
        assert dump.returncode == 0, dump.stderr
        (root / name / "dump.json").write_text(dump.stdout)
        json.loads(dump.stdout)
    result = check_events(root)
    assert result.valid is True, result.violations
    assert result.details["nodes"] == ["n1", "n2", "n3"]
    assert result.details["dumps"] == ["n1", "n2", "n3"]
    assert result.details["terms_with_leader"] >= 2
    assert result.details["applied_indexes"] >= 50
    # The single-event rules were judged on real events (a leader crash: votes, a restart
    # that recovers its vote, leader commits) and hold on the correct node.
    rules = result.details["rules"]
    for rule in ("vote-durability", "up-to-date-vote", "current-term-commit"):
        assert rules[rule]["checked"] is True and rules[rule]["valid"] is True, rules
    for name in ("n1", "n2", "n3"):
        lines = (root / name / "events.jsonl").read_text().splitlines()
        events = [json.loads(line) for line in lines]
        assert all(isinstance(e.get("mono"), int) for e in events)  # detection's clock
        starts = [e for e in events if e["ev"] == "start"]
        assert starts and all("voted_for" in e and "last_term" in e for e in starts)
