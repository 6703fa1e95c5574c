"""The default fault schedule: short scenarios, each aimed at one class of Raft bug.

Why not the random one-fault-at-a-time schedule: most planted bugs need a *sequence*
(partition a follower, let it fall behind, heal, kill the leader so it can win an
election; skew the leader's clock, cut it off, set the clock back), which independent
random faults almost never line up within a 60 s test. Each scenario here is such a
sequence, a few seconds long; the seed shuffles them (all of them once per cycle, then
reshuffled), so one test sees several and a handful of seeds see them all.

A scenario names the faults it needs; `ScenarioNemesis.setup` keeps only the faults
whose own setup accepts this cluster and DB (clock needs libfaketime, partition a
network or a DB hook, packet chaos a DB that shapes peer messages) and the schedule then
uses only the scenarios those faults allow. Which ones ran is in the history: each op
carries ``"scenario": name`` in its extra fields.

Times scale with the nemesis interval (`unit` = interval / 4, so the default 4 s gives
the figures below). Step k's ops are a pure function of (seed, k, usable scenarios), as
in the random schedule.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from harness.core.generators import OpRequest
from harness.core.protocols import RunContext, disk_delayer
from nemeses.base import NemesisError, log, start_f, stop_f
from nemeses.composite import CompositeNemesis
from nemeses.packet import can_chaos
from nemeses.schedule import StepSchedule

NAME = "scenarios"  # the pseudo fault name that selects this schedule (spec.nemesis)
FAULTS = ("kill", "pause", "partition", "clock", "packet", "disk")
CHAOS = "packet-chaos"  # capabilities beyond the fault itself: packet chaos,
SLOW_DISK = "slow-disk"  # and the disk fault's slow mode


@dataclass(frozen=True)
class Step:
    """One op of a scenario, `wait` seconds (in units) after the previous one completed."""

    f: str
    value: Any
    wait: float


Builder = Callable[[random.Random], list[Step]]


@dataclass(frozen=True)
class Scenario:
    name: str
    aims: tuple[str, ...]  # the planted bugs (raftnode --list-bugs) it is aimed at
    needs: tuple[str, ...]  # fault names, and CHAOS for packet chaos
    steps: Builder


def _kill_leader(rng: random.Random) -> list[Step]:
    return [Step(start_f("kill"), {"target": "leader"}, 0), Step(stop_f("kill"), None, 2.5)]


def _crash_all(rng: random.Random) -> list[Step]:
    # Writes flow all the time (the workload's rate); killing everyone at once loses
    # whatever was acknowledged but not on disk, and every vote not fsynced.
    down = rng.uniform(0.3, 1.0)
    return [Step(start_f("kill"), {"target": "all"}, 0), Step(stop_f("kill"), None, down)]


def _pause_leader(rng: random.Random) -> list[Step]:
    return [
        Step(start_f("pause"), {"target": "leader"}, 0),
        Step(stop_f("pause"), None, rng.uniform(2.0, 3.5)),
    ]


# The clock must jump back while the cut-off leader still holds its lease (one election
# timeout, 300 ms by default) and before the others elect a new leader (which "leader"
# would then name): so these partitions skip their verification (verify: false) and the
# clock op follows at once.
QUICK_CUT = {"topology": "leader", "verify": False}
# How long the lease scenarios keep the old leader cut off (units). Its own clients spend
# most of a cut blocked on writes it can never commit (one attempt's share of the op
# timeout each) and read in between; 4-6 units give each of them several stale reads.
LEASE_CUT = (4.0, 6.0)


def _skew_then_isolate(rng: random.Random) -> list[Step]:
    # The leader's wall clock runs ahead; it is cut off; then every clock is reset, so
    # its own jumps back and a lease measured on it looks valid for seconds after the
    # others elected a leader.
    ahead = rng.choice([5_000, 10_000])
    return [
        Step(start_f("clock"), {"target": "leader", "mode": "skew", "offset_ms": ahead}, 0),
        Step(start_f("partition"), dict(QUICK_CUT), 0.5),
        Step(stop_f("clock"), None, 0),
        Step(stop_f("partition"), None, rng.uniform(*LEASE_CUT)),
    ]


def _isolate_then_skew_back(rng: random.Random) -> list[Step]:
    # docs/nemeses.md: isolating the leader and, 0.1 s in, turning its clock back 10 s
    # found lease-read on every seed tried
    behind = -rng.choice([5_000, 10_000])
    return [
        Step(start_f("partition"), dict(QUICK_CUT), 0),
        Step(start_f("clock"), {"target": "leader", "mode": "bump", "offset_ms": behind}, 0),
        Step(stop_f("partition"), None, rng.uniform(*LEASE_CUT)),
        Step(stop_f("clock"), None, 0.2),
    ]


def _isolate_leader(rng: random.Random) -> list[Step]:
    return [
        Step(start_f("partition"), {"topology": "leader"}, 0),
        Step(stop_f("partition"), None, rng.uniform(2.5, 4.0)),
    ]


def _stale_node_elected(rng: random.Random) -> list[Step]:
    # A follower misses writes behind a partition; right after the heal the up-to-date
    # leader (and maybe one more node) dies, so the election runs with the stale node in it.
    steps = [
        Step(start_f("partition"), {"topology": "one", "node": "follower"}, 0),
        Step(stop_f("partition"), None, rng.uniform(2.0, 3.0)),
        Step(start_f("kill"), {"target": "leader"}, 0),
    ]
    if rng.random() < 0.5:
        steps.append(Step(start_f("kill"), {"target": "leader"}, 0.4))
    return [*steps, Step(stop_f("kill"), None, 2.0)]


def _chaos_elections(rng: random.Random) -> list[Step]:
    chaos = {
        "mode": "chaos",
        "target": "all",
        "drop": rng.choice([0.05, 0.1, 0.2]),
        "duplicate": rng.choice([0.2, 0.3, 0.4]),
        "delay": 0.2,
        "delay_ms": rng.choice([20, 50, 100]),
        "reorder": rng.choice([0.3, 0.4, 0.5]),
        "reorder_ms": rng.choice([50, 100, 200]),
    }
    steps = [Step(start_f("packet"), chaos, 0)]
    for _ in range(rng.choice([3, 4, 5])):
        steps += [
            Step(start_f("kill"), {"target": "leader"}, rng.uniform(0.2, 0.6)),
            Step(stop_f("kill"), None, rng.uniform(0.3, 0.8)),
        ]
    return [*steps, Step(stop_f("packet"), None, 0.5)]


def _slow_disk_elections(rng: random.Random) -> list[Step]:
    # Figure 8 needs a new leader that counts followers' copies of older-term entries
    # before its own no-op is durable on a quorum. Every disk is slowed a little (so
    # followers hold entries for a while before they learn they are committed) and the
    # leader's, whichever node leads, a lot: its AppendEntries leave at once, followers
    # answer within tens of milliseconds, its own copy counts 100-200 ms later (etcd's
    # robustness tests sleep around WAL saves for the same reason). Each leader elected
    # after a kill then inherits entries it does not know to be committed.
    slow = {
        "target": "all",
        "delay_ms": rng.choice([10, 20, 30]),
        "jitter_ms": rng.choice([10, 20, 40]),
        "leader_ms": rng.choice([100, 150, 200]),
    }
    steps = [Step(start_f("disk"), slow, 0)]
    for _ in range(rng.choice([3, 4])):
        steps += [
            Step(start_f("kill"), {"target": "leader"}, rng.uniform(0.3, 0.8)),
            Step(stop_f("kill"), None, rng.uniform(0.4, 0.8)),
        ]
    return [*steps, Step(stop_f("disk"), None, 0.5)]


def _restart_after_election(rng: random.Random) -> list[Step]:
    # Kill the leader, let the others vote, then restart a majority of the voters while
    # their vote is fresh: a node that forgets it can vote again in the same term.
    return [
        Step(start_f("kill"), {"target": "leader"}, 0),
        Step(stop_f("kill"), None, rng.uniform(0.5, 1.0)),
        Step(start_f("kill"), {"target": rng.choice(["majority", "all"])}, rng.uniform(0.1, 0.6)),
        Step(stop_f("kill"), None, 0.3),
    ]


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("kill-leader", ("figure8", "no-fsync", "ack-before-commit"), ("kill",), _kill_leader),
    Scenario("crash-all", ("no-fsync", "forget-vote"), ("kill",), _crash_all),
    Scenario("pause-leader", ("stale-read", "lease-read"), ("pause",), _pause_leader),
    Scenario(
        "skew-leader-then-isolate", ("lease-read",), ("clock", "partition"), _skew_then_isolate
    ),
    Scenario(
        "isolate-leader-then-skew-back",
        ("lease-read",),
        ("clock", "partition"),
        _isolate_then_skew_back,
    ),
    Scenario(
        "isolate-leader",
        ("stale-read", "ack-before-commit", "follower-read"),
        ("partition",),
        _isolate_leader,
    ),
    Scenario(
        "stale-node-elected",
        ("no-uptodate-check", "bad-truncate", "follower-read"),
        ("partition", "kill"),
        _stale_node_elected,
    ),
    Scenario(
        "chaos-elections",
        ("figure8", "bad-truncate", "dup-apply"),
        ("packet", CHAOS, "kill"),
        _chaos_elections,
    ),
    Scenario(
        "slow-disk-elections",
        ("figure8",),
        ("disk", SLOW_DISK, "kill"),
        _slow_disk_elections,
    ),
    Scenario("restart-after-election", ("forget-vote",), ("kill",), _restart_after_election),
)
BY_NAME = {s.name: s for s in SCENARIOS}


def usable(available: Sequence[str], scenarios: Sequence[Scenario] = SCENARIOS) -> list[Scenario]:
    """The scenarios whose every need is in `available` (fault names and CHAOS)."""
    have = set(available)
    return [s for s in scenarios if set(s.needs) <= have]


@dataclass
class ScenarioPlan:
    """The pure part: step k -> that scenario's ops, from the seed and the usable set."""

    seed: str
    interval_s: float = 4.0
    scenarios: list[Scenario] | None = None  # None: not restricted yet (all of them)

    def __post_init__(self) -> None:
        if self.interval_s <= 0:
            raise NemesisError(f"nemesis interval must be > 0 seconds, got {self.interval_s}")

    @property
    def pool(self) -> list[Scenario]:
        return list(SCENARIOS if self.scenarios is None else self.scenarios)

    def order(self, cycle: int) -> list[Scenario]:
        """Every usable scenario once, shuffled by the seed and the cycle number."""
        pool = self.pool
        random.Random(f"{self.seed}/cycle/{cycle}").shuffle(pool)
        return pool

    def step_ops(self, k: int) -> list[tuple[float, OpRequest]]:
        """Scenario k as (seconds to wait before it, op) pairs; a quiet gap first."""
        pool = self.pool
        if not pool:
            raise NemesisError("no fault scenario is usable on this cluster and DB")
        scenario = self.order(k // len(pool))[k % len(pool)]
        rng = random.Random(f"{self.seed}/step/{k}")
        unit = self.interval_s / 4.0
        # Short enough that a cycle of every scenario (~55 s at the default interval)
        # fits in the default 60 s test: a scenario drawn last still runs.
        gap = unit * rng.uniform(0.75, 1.5)
        out = []
        for i, step in enumerate(scenario.steps(rng)):
            wait = (gap if i == 0 else 0.0) + unit * step.wait
            extra = {"scenario": scenario.name}
            out.append((round(wait, 6), OpRequest(f=step.f, value=step.value, extra=extra)))
        return out

    def names(self, n: int) -> list[str]:
        """The first n scenarios' names (for tests and the docs)."""
        pool = self.pool
        return [self.order(k // len(pool))[k % len(pool)].name for k in range(n)]


class ScenarioSchedule(StepSchedule):
    """Serves ScenarioPlan's ops to the nemesis process, each after its wait."""

    plan: ScenarioPlan

    def steps(self, k: int) -> list[tuple[float, OpRequest]]:
        return self.plan.step_ops(k)


class ScenarioNemesis(CompositeNemesis):
    """The composite of every fault a scenario may use; setup keeps the usable ones and
    restricts the plan (and the final stop ops) to them."""

    name = NAME

    def __init__(self, faults: list[Any], plan: ScenarioPlan, final_ops: list[OpRequest]):
        super().__init__(faults)
        self.plan = plan
        self.final_ops = final_ops  # the package's list, trimmed in place by setup
        self.dropped: dict[str, str] = {}

    def setup(self, ctx: RunContext) -> None:
        kept = []
        for fault in self.faults:
            try:
                fault.setup(ctx)
                kept.append(fault)
            except Exception as exc:  # noqa: BLE001 - a fault this cluster cannot take is left out
                self.dropped[fault.fault] = str(exc)
                log(ctx, f"scenarios: leaving out {fault.fault}: {exc}")
        self.faults = kept
        self.by_f = {f: fault for fault in kept for f in fault.fs}
        self.fs = tuple(self.by_f)
        available = [f.fault for f in kept]
        if "packet" in available and can_chaos(ctx):
            available.append(CHAOS)
        if "disk" in available and disk_delayer(ctx.db) is not None:
            available.append(SLOW_DISK)
        self.plan.scenarios = usable(available)
        if not self.plan.scenarios:
            raise NemesisError(
                "no fault scenario is usable here: "
                + "; ".join(f"{k}: {v}" for k, v in self.dropped.items())
            )
        self.final_ops[:] = [op for op in self.final_ops if op.f in self.by_f]
        log(ctx, f"scenarios in use: {', '.join(s.name for s in self.plan.scenarios)}")
