"""Schedules: the random combined schedule is reproducible from its seed, respects
--nemesis-targets and alternates start/stop; an explicit schedule is validated with
errors naming the field and replayed at its times."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nemeses
from harness.core.generators import OpRequest, Sleep
from nemeses.base import FAULTS, NemesisError
from nemeses.schedule import RandomPlan, explicit_ops


def drain(gen, limit: int, step: float = 0.0) -> list[tuple[float, OpRequest]]:
    """Ask the generator like the runner does; returns (time, op) pairs."""
    now, out = 0.0, []
    while len(out) < limit:
        answer = gen.next("nemesis", now)
        if answer is None:
            break
        if isinstance(answer, Sleep):
            now += answer.seconds
            continue
        out.append((round(now, 6), answer))
        now += step
    return out


def ops_for(seed: int, names=("kill", "partition", "pause", "clock"), n=12, step=0.0):
    package = nemeses.build(
        list(names), interval_s=5, targets=None, schedule=None, rng=random.Random(seed)
    )
    return [(op.f, op.value) for _, op in drain(package.generator, n, step)]


@given(st.integers(0, 10_000))
@settings(max_examples=25, deadline=None)
def test_same_seed_same_fault_ops_whatever_the_timing(seed):
    assert ops_for(seed) == ops_for(seed, step=3.7)


def test_different_seeds_give_different_schedules():
    assert len({str(ops_for(seed)) for seed in range(6)}) > 1


def test_random_schedule_alternates_start_and_stop_with_waits():
    package = nemeses.build(
        ["kill", "pause"], interval_s=10, targets=None, schedule=None, rng=random.Random(1)
    )
    timed = drain(package.generator, 10)
    fs = [op.f for _, op in timed]
    for start, stop in zip(fs[::2], fs[1::2], strict=True):
        assert start.startswith("start-") and stop == "stop-" + start.removeprefix("start-")
    gaps = [b - a for (a, _), (b, _) in zip(timed, timed[1:], strict=False)]
    assert all(5 <= gap <= 15 for gap in gaps), gaps
    assert timed[0][0] >= 5


def test_every_enabled_fault_gets_picked():
    plan = RandomPlan(list(FAULTS), 1.0, "seed")
    assert {plan.step(k)[0] for k in range(200)} == set(FAULTS)


def test_targets_restrict_the_choices():
    plan = RandomPlan(["kill", "partition", "pause"], 1.0, "s", targets=["leader"])
    for k in range(60):
        fault, value, _, _ = plan.step(k)
        if fault == "partition":
            assert value["topology"] == "leader"
        else:
            assert value["target"] == "leader"
    with pytest.raises(NemesisError, match="leaves disk nothing to target"):
        RandomPlan(["disk"], 1.0, "s", targets=["majority"])


def test_final_ops_stop_every_enabled_fault_in_heal_order():
    package = nemeses.build(
        ["partition", "kill", "pause"],
        interval_s=1,
        targets=None,
        schedule=None,
        rng=random.Random(0),
    )
    assert [op.f for op in package.final_ops] == ["stop-pause", "stop-kill", "stop-partition"]
    assert all(op.extra == {"final": True} for op in package.final_ops)
    assert set(package.nemesis.fs) == {
        f"{k}-{f}" for f in ("partition", "kill", "pause") for k in ("start", "stop")
    }


def test_explicit_schedule_replaces_the_random_one():
    schedule = [
        {"at": 10, "fault": "partition", "topology": "majorities-ring", "duration": 8},
        {"at": 20, "fault": "kill", "target": "leader"},
        {
            "at": 12,
            "f": "start-clock",
            "value": {"mode": "skew", "offset_ms": 1500, "target": "n2"},
        },
        {"at": 15, "f": "stop-clock"},
    ]
    package = nemeses.build(
        ["pause"], interval_s=5, targets=None, schedule=schedule, rng=random.Random(0)
    )
    timed = [(t, op.f, op.value) for t, op in drain(package.generator, 50)]
    assert timed == [
        (10, "start-partition", {"topology": "majorities-ring"}),
        (12, "start-clock", {"mode": "skew", "offset_ms": 1500.0, "target": "n2"}),
        (15, "stop-clock", None),
        (18, "stop-partition", None),
        (20, "start-kill", {"target": "leader"}),
    ]
    assert package.faults == ["pause", "kill", "partition", "clock"]
    assert package.requires_faketime
    assert nemeses.requires_faketime(["kill"], schedule)
    assert not nemeses.requires_faketime(["kill", "partition"])


def test_schedule_entry_objects_like_the_specs_are_accepted():
    from harness.spec import ScheduleEntry

    ops = explicit_ops([ScheduleEntry(at=3, f="pause", value="minority", duration=2)])
    assert [(op.at, op.f, op.value) for op in ops] == [
        (3, "start-pause", {"target": "minority"}),
        (5, "stop-pause", None),
    ]


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ([{"fault": "kill"}], r"schedule\[0\].at: expected seconds"),
        ([{"at": 1, "fault": "explode"}], r"schedule\[0\].fault: unknown fault 'explode'"),
        (
            [{"at": 1, "fault": "partition", "topology": "rign"}],
            r"schedule\[0\].value.topology: unknown value 'rign'",
        ),
        (
            [{"at": 1, "fault": "kill", "target": "leadr"}],
            r"schedule\[0\].value.target: unknown target",
        ),
        (
            [{"at": 1, "fault": "kill", "colour": "red"}],
            r"schedule\[0\].value.colour: unknown parameter",
        ),
        ([{"at": 1, "fault": "kill", "duration": -2}], r"schedule\[0\].duration"),
        ([{"at": 1, "fault": "packet", "probability": 3}], r"value.probability: expected a number"),
        (
            [{"at": 1, "fault": "partition", "topology": "grudge"}],
            r"value.grudge: topology grudge needs",
        ),
        (
            [{"at": 1, "fault": "partition", "grudge": {"n1": ["n9"]}}],
            r"value.grudge.n1: unknown node 'n9'",
        ),
        (
            [{"at": 1, "fault": "kill", "duration": 10}, {"at": 5, "fault": "kill"}],
            r"schedule\[1\].at: kill starts at 5s while the kill from schedule\[0\]",
        ),
        ("nope", "expected a list"),
    ],
)
def test_bad_schedules_name_the_field(schedule, message):
    with pytest.raises(NemesisError, match=message):
        explicit_ops(schedule, ["n1", "n2", "n3"])


def test_unknown_fault_names_are_rejected():
    with pytest.raises(NemesisError, match="unknown fault 'flood'"):
        nemeses.build(["flood"], interval_s=1, targets=None, schedule=None, rng=random.Random(0))
