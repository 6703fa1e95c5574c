"""Cross-check with raftnode's deterministic simulation: on the planted-bug schedules of
tests/raftnode_core/test_bugs.py, the events the real core emits must make this checker
fail exactly when the simulation's own invariants fail, and pass on the correct node.

Why: the simulation observes node internals directly; this checker sees only events.
Agreement shows the events are enough and our reading of them is right."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import pytest

from checkers.raft_safety import check_events
from raftnode import sim
from raftnode.sim import cluster as sim_cluster
from tests.raftnode_core import test_bugs as bug_tests

# Planted bug -> the property this checker must report for it.
EXPECTED = {
    "bad-truncate": "leader-completeness",
    "figure8": "leader-completeness",
    "forget-vote": "vote-durability",
    "no-fsync": "state-machine-safety",
    "no-uptodate-check": "leader-completeness",
}
RAFT_INVARIANTS = {"election-safety", "log-matching", "leader-completeness",
                   "state-machine-safety", "commit-safety"}  # fmt: skip


class _Recorder(sim.Invariants):
    """The simulation's observer, made to record events and note (not raise) violations."""

    def __init__(self) -> None:
        super().__init__()
        self.events: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.caught: set[str] = set()

    def _note(self, method: Any, *args: Any) -> None:
        try:
            method(*args)
        except sim.InvariantViolation as exc:
            self.caught.add(exc.name)

    def on_events(self, node_id: str, events: list[dict[str, Any]]) -> None:
        self.events[node_id].extend(events)
        self._note(super().on_events, node_id, events)

    def on_entries(self, *args: Any) -> None:
        self._note(super().on_entries, *args)

    def on_state(self, *args: Any) -> None:
        self._note(super().on_state, *args)

    def on_ack(self, *args: Any) -> None:
        self._note(super().on_ack, *args)

    def final_durability(self, *args: Any) -> None:
        self._note(super().final_durability, *args)


def _record(monkeypatch, tmp_path, schedule: str, bugs: frozenset[str], seed: int):
    """Run one targeted schedule; returns (raft invariants the simulation saw broken,
    this checker's result on the events the nodes emitted)."""
    if schedule not in bug_tests.TARGETED:
        pytest.skip(f"no targeted schedule for {schedule}")
    monkeypatch.setattr(sim_cluster, "Invariants", _Recorder)
    cluster = bug_tests.TARGETED[schedule][0](bugs, seed)
    for node, events in cluster.inv.events.items():
        (tmp_path / node).mkdir()
        (tmp_path / node / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    return cluster.inv.caught & RAFT_INVARIANTS, check_events(tmp_path)


@pytest.mark.parametrize("bug", sorted(EXPECTED))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_checker_agrees_with_simulation_on_planted_bug(monkeypatch, tmp_path, bug, seed):
    caught, result = _record(monkeypatch, tmp_path, bug, frozenset({bug}), seed)
    assert (result.valid is False) == bool(caught), (caught, result.summary)
    if caught:
        assert EXPECTED[bug] in {v["property"] for v in result.violations}, result.summary


@pytest.mark.parametrize("schedule", sorted(EXPECTED))
def test_correct_node_on_the_same_schedules_is_valid(monkeypatch, tmp_path, schedule):
    caught, result = _record(monkeypatch, tmp_path, schedule, frozenset(), 0)
    assert not caught
    assert result.valid is True, result.violations
    assert result.details["terms_with_leader"] >= 1


def _random_run(monkeypatch, tmp_path, bugs: frozenset[str], seed: int):
    """The simulation's random-fault run (drops, duplicates, delays, crashes, partitions)."""
    monkeypatch.setattr(sim_cluster, "Invariants", _Recorder)
    cfg = sim.SimConfig(nodes=3, seed=seed, bugs=bugs, drop=0.05, duplicate=0.05, max_delay=4)
    try:
        cluster = sim.simulate(cfg, 800, faults=sim.SimFaults(every=30))
    except sim.InvariantViolation:
        return None  # a client-visible anomaly (stale read) outside this checker's scope
    root = tmp_path / f"seed{seed}"
    for node, events in cluster.inv.events.items():
        (root / node).mkdir(parents=True)
        (root / node / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    return cluster.inv.caught & RAFT_INVARIANTS, check_events(root)


def test_random_faults_on_the_correct_node_are_valid(monkeypatch, tmp_path):
    """No false positives through truncations, snapshot installs and restarts."""
    for seed in range(10):
        outcome = _random_run(monkeypatch, tmp_path, frozenset(), seed)
        assert outcome is not None
        caught, result = outcome
        assert not caught and result.valid is True, (seed, result.violations)


@pytest.mark.parametrize("bug", ["bad-truncate", "no-uptodate-check"])
def test_random_faults_with_a_bug_never_slip_through(monkeypatch, tmp_path, bug):
    """Whenever the simulation sees a Raft invariant broken, so does this checker."""
    for seed in range(8):
        outcome = _random_run(monkeypatch, tmp_path, frozenset({bug}), seed)
        if outcome is not None and outcome[0]:
            assert outcome[1].valid is False, (seed, outcome[0])


# Planted bug -> the single-event rule that names it directly (checkers/raft_safety.RULES).
EXPECTED_RULE = {
    "bad-truncate": "committed-entry-removed",
    "figure8": "current-term-commit",
    "forget-vote": "vote-durability",
    "no-uptodate-check": "up-to-date-vote",
}


@pytest.mark.parametrize("bug", sorted(EXPECTED_RULE))
@pytest.mark.parametrize("seed", [0, 1])
def test_targeted_bug_breaks_its_own_rule(monkeypatch, tmp_path, bug, seed):
    _, result = _record(monkeypatch, tmp_path, bug, frozenset({bug}), seed)
    rules = {v["property"] for v in result.violations}
    assert EXPECTED_RULE[bug] in rules, result.summary
    assert result.details["rules"][EXPECTED_RULE[bug]]["violations"] >= 1
