"""The default scenario schedule: seeded and reproducible, cycles through every usable
scenario, keeps only what the cluster and DB can take, and is what the spec defaults to.
Also the leader wait and the follower target the scenarios rely on."""

from __future__ import annotations

import random
import threading
import time

import pytest

import nemeses
from harness.core.generators import NEMESIS, OpRequest, Sleep
from harness.spec import SpecError, TestSpec, build_spec
from nemeses.base import NemesisError
from nemeses.scenarios import (
    CHAOS,
    SCENARIOS,
    SLOW_DISK,
    ScenarioNemesis,
    ScenarioPlan,
    ScenarioSchedule,
    usable,
)
from nemeses.targets import resolve, waiting_leader
from tests.nemeses.fakedb import Cluster, Ctx

ALL = ["kill", "pause", "partition", "clock", "packet", "disk", CHAOS, SLOW_DISK]


def _ops(plan: ScenarioPlan, steps: int) -> list[tuple[float, str, object, str]]:
    return [
        (wait, op.f, op.value, op.extra["scenario"])
        for k in range(steps)
        for wait, op in plan.step_ops(k)
    ]


def test_same_seed_same_ops_other_seed_other_order():
    assert _ops(ScenarioPlan("s1"), 12) == _ops(ScenarioPlan("s1"), 12)
    assert ScenarioPlan("s1").names(9) != ScenarioPlan("s2").names(9)


def test_each_cycle_runs_every_usable_scenario_once():
    plan = ScenarioPlan("seed", scenarios=usable(ALL))
    n = len(SCENARIOS)
    names = plan.names(2 * n)
    assert sorted(names[:n]) == sorted(s.name for s in SCENARIOS)
    assert sorted(names[n:]) == sorted(names[:n])
    assert names[:n] != names[n:]  # reshuffled per cycle


def test_every_scenario_stops_what_it_starts():
    plan = ScenarioPlan("x")
    for k in range(3 * len(SCENARIOS)):
        active: dict[str, int] = {}
        for _, op in plan.step_ops(k):
            kind, fault = op.f.split("-", 1)
            active[fault] = active.get(fault, 0) + (1 if kind == "start" else 0)
            if kind == "stop":
                active.pop(fault)
        assert active == {}, f"step {k} leaves {active} running"


def test_times_scale_with_the_interval():
    slow, fast = ScenarioPlan("x", interval_s=8.0), ScenarioPlan("x", interval_s=4.0)
    for k in range(5):
        waits_slow = [w for w, _ in slow.step_ops(k)]
        waits_fast = [w for w, _ in fast.step_ops(k)]
        assert waits_slow == pytest.approx([2 * w for w in waits_fast])
    with pytest.raises(NemesisError, match="interval"):
        ScenarioPlan("x", interval_s=0)


def test_usable_keeps_only_scenarios_whose_needs_are_met():
    names = {s.name for s in usable(["kill", "pause"])}
    assert names == {"kill-leader", "crash-all", "pause-leader", "restart-after-election"}
    assert "chaos-elections" not in {s.name for s in usable(["kill", "packet"])}
    assert "chaos-elections" in {s.name for s in usable(["kill", "packet", CHAOS])}
    assert "slow-disk-elections" not in {s.name for s in usable(["kill", "disk"])}
    assert "slow-disk-elections" in {s.name for s in usable(["kill", "disk", SLOW_DISK])}


def test_the_schedule_serves_ops_after_their_waits():
    plan = ScenarioPlan("x", scenarios=usable(["kill"]))
    schedule = ScenarioSchedule(plan)
    assert schedule.next(0, 0.0) is None  # client processes get nothing from it
    first_wait, first_op = plan.step_ops(0)[0]
    answer = schedule.next(NEMESIS, 0.0)
    assert isinstance(answer, Sleep) and answer.seconds == pytest.approx(first_wait)
    op = schedule.next(NEMESIS, first_wait)
    assert isinstance(op, OpRequest) and op.f == first_op.f and op.extra["scenario"]


class _Fault:
    """A fault family whose setup succeeds or refuses."""

    def __init__(self, fault: str, ok: bool) -> None:
        self.fault, self.ok = fault, ok
        self.fs = (f"start-{fault}", f"stop-{fault}")

    def setup(self, ctx):
        if not self.ok:
            raise NemesisError(f"{self.fault} cannot run here")


def test_setup_leaves_out_unusable_faults_and_their_scenarios_and_stop_ops():
    faults = [_Fault("kill", True), _Fault("pause", True), _Fault("clock", False)]
    faults.append(_Fault("partition", True))
    plan = ScenarioPlan("x")
    final = [OpRequest(f=f"stop-{f.fault}", value=None) for f in faults]
    nemesis = ScenarioNemesis(faults, plan, final)
    nemesis.setup(Ctx(cluster=Cluster({}, "local"), db=object(), nodes=["n1"]))
    assert nemesis.dropped == {"clock": "clock cannot run here"}
    used = {s.name for s in plan.pool}
    assert "isolate-leader" in used and "stale-node-elected" in used
    assert not any("skew" in name for name in used) and "chaos-elections" not in used
    assert [op.f for op in final] == ["stop-kill", "stop-pause", "stop-partition"]
    assert "start-clock" not in nemesis.fs


def test_setup_with_nothing_usable_is_a_clear_error():
    nemesis = ScenarioNemesis([_Fault("clock", False)], ScenarioPlan("x"), [])
    with pytest.raises(NemesisError, match="no fault scenario is usable here: clock"):
        nemesis.setup(Ctx(cluster=None, db=object(), nodes=["n1"]))


def test_build_gives_the_scenario_package_and_a_schedule_replaces_it():
    package = nemeses.build(["scenarios"], interval_s=4.0, rng=random.Random(3))
    assert isinstance(package.nemesis, ScenarioNemesis)
    assert isinstance(package.generator, ScenarioSchedule)
    assert {op.f for op in package.final_ops} == {
        "stop-kill",
        "stop-pause",
        "stop-partition",
        "stop-packet",
        "stop-clock",
        "stop-disk",
    }
    explicit = nemeses.build(
        ["scenarios"], schedule=[{"at": 1, "fault": "kill", "value": "leader"}]
    )
    assert not isinstance(explicit.nemesis, ScenarioNemesis) and explicit.faults == ["kill"]
    with pytest.raises(NemesisError, match="alone"):
        nemeses.build(["scenarios", "kill"])


def test_spec_defaults_to_scenarios_and_named_faults_keep_the_random_schedule():
    spec = TestSpec()
    assert spec.nemesis == ["scenarios"] and spec.nemesis_interval == 4.0
    assert build_spec({"nemesis": "kill,pause"}, "cli").nemesis == ["kill", "pause"]
    with pytest.raises(SpecError, match="schedule of its own"):
        build_spec({"nemesis": "scenarios,kill"}, "cli")
    with pytest.raises(SpecError, match="scenarios, or none"):
        build_spec({"nemesis": "scenario"}, "cli")


def test_leader_wait_returns_the_leader_once_elected():
    elected: list[str] = []
    threading.Timer(0.3, lambda: elected.append("n2")).start()
    started = time.monotonic()
    who = waiting_leader(lambda: elected[0] if elected else None, timeout=5.0, interval=0.02)()
    assert who == "n2" and time.monotonic() - started < 4.0


def test_leader_wait_gives_up_after_its_timeout():
    calls: list[float] = []

    def never() -> None:
        calls.append(time.monotonic())
        return None

    assert waiting_leader(never, timeout=0.3, interval=0.05)() is None
    assert len(calls) > 2 and calls[-1] - calls[0] >= 0.25


def test_follower_target_is_never_the_leader():
    nodes = ["n1", "n2", "n3", "n4", "n5"]
    picks = {resolve("follower", nodes, random.Random(i), lambda: "n3").nodes[0] for i in range(40)}
    assert "n3" not in picks and len(picks) > 1
    assert resolve("follower", ["n1"], random.Random(0), lambda: "n1").nodes == []


def _main_phase_faults(tmp_path, seed: int) -> list[tuple[str, object]]:
    import workloads
    from harness.core import generators as g
    from harness.runner import Runner
    from tests.harness_runner.helpers import null_spec

    spec = null_spec(tmp_path, seed=seed, time_limit=60.0, rate=50.0)
    package = nemeses.build(["scenarios"], interval_s=4.0, rng=random.Random(f"nemesis:{seed}"))
    root = Runner(spec).build_generator(workloads.build("kv"), package)
    items = g.drain(root, [0, 1, 2, "nemesis"], max_ops=5000)
    return [(op.f, op.extra.get("scenario")) for p, _, op in items if p == "nemesis"]


def test_the_runners_main_phase_replays_the_same_scenarios(tmp_path):
    one = _main_phase_faults(tmp_path, 5)
    assert one == _main_phase_faults(tmp_path, 5)
    assert one != _main_phase_faults(tmp_path, 6)
    assert len({name for _, name in one}) >= 5  # a 60 s test sees several scenarios


def test_a_hostless_db_runs_the_kill_and_pause_scenarios(tmp_path):
    from harness.runner import Runner
    from tests.harness_runner.helpers import load_ops, null_spec

    spec = null_spec(tmp_path, nemesis=["scenarios"], nemesis_interval=1.0, time_limit=4.0)
    result = Runner(spec).run()
    assert result.error is None and result.valid is True
    ops = [op for op in load_ops(result.run_dir) if op.process == "nemesis" and op.type == "info"]
    started = {op.f for op in ops if op.f.startswith("start-")}
    assert started and started <= {"start-kill", "start-pause"}
    assert not [op for op in ops if op.error]  # nothing it could not do was scheduled
