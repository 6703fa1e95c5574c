"""The sim's command line, and a longer soak of random fault schedules (slow)."""

from __future__ import annotations

import pytest

from raftnode.sim import InvariantViolation, SimConfig, SimFaults, main, simulate


def test_cli_correct_cluster_passes(capsys):
    assert main(["--nodes", "3", "--seeds", "2", "--ticks", "400"]) == 0
    out = capsys.readouterr().out
    assert out.count(": ok") == 2


def test_cli_reports_planted_bug(capsys):
    assert main(["--nodes", "3", "--seeds", "4", "--ticks", "600", "--bug", "follower-read"]) == 1
    assert "VIOLATION stale-read" in capsys.readouterr().out


def test_cli_rejects_unknown_bug(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--bug", "nope"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_sim_config_validates():
    with pytest.raises(ValueError, match="unknown bug"):
        SimConfig(bugs=frozenset({"nope"}))
    with pytest.raises(ValueError):
        SimConfig(nodes=0)


@pytest.mark.slow
@pytest.mark.parametrize("nodes", [3, 5, 7])
def test_soak_random_faults(nodes):
    """Long runs with every fault on, tiny snapshots and one-entry appends."""
    for seed in range(20):
        cfg = SimConfig(
            nodes=nodes,
            seed=10_000 + seed,
            drop=0.08,
            duplicate=0.05,
            max_delay=5,
            snapshot_every=4,
            max_append_entries=2,
        )
        try:
            cl = simulate(cfg, 2000, faults=SimFaults(every=20, clock=True))
        except InvariantViolation as exc:  # pragma: no cover - the failure message matters
            pytest.fail(f"seed {cfg.seed}: {exc}")
        assert max(cl.inv.committed, default=0) > 20
