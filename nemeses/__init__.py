"""nemeses: faults for splitbrain — what each does to a cluster and how it is undone.

`build(...)` (docs/interfaces.md §7) turns the spec's fault names, interval, targets
and optional explicit schedule into a NemesisPackage: the composite nemesis, the
schedule generator for the "nemesis" process, and the final heal ops. The name
``scenarios`` (the default) selects the scenario schedule of nemeses.scenarios instead
of the random one. See
docs/nemeses.md for every fault, its op values and how it is verified.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.core.faketime import FAKETIME_LIB
from harness.core.generators import Generator, OpRequest
from nemeses.base import FAULTS, HOSTLESS_FAULTS, Claims, NemesisError, derive_rng, stop_f
from nemeses.clock import ClockNemesis
from nemeses.composite import HEAL_ORDER, CompositeNemesis
from nemeses.disk import DiskNemesis
from nemeses.fault import Fault
from nemeses.packet import PacketNemesis
from nemeses.partition import PartitionNemesis
from nemeses.process import KillNemesis, PauseNemesis
from nemeses.scenarios import FAULTS as SCENARIO_FAULTS
from nemeses.scenarios import NAME as SCENARIOS
from nemeses.scenarios import ScenarioNemesis, ScenarioPlan, ScenarioSchedule
from nemeses.schedule import ExplicitSchedule, RandomPlan, RandomSchedule, explicit_ops, faults_in

__all__ = [
    "FAULTS",
    "HOSTLESS_FAULTS",
    "SCENARIOS",
    "NemesisError",
    "NemesisPackage",
    "build",
    "requires_faketime",
    "make_fault",
]

FAULT_CLASSES: dict[str, type[Fault]] = {
    "kill": KillNemesis,
    "pause": PauseNemesis,
    "partition": PartitionNemesis,
    "clock": ClockNemesis,
    "packet": PacketNemesis,
    "disk": DiskNemesis,
}


@dataclass
class NemesisPackage:
    """What the runner needs: `nemesis.invoke` for each op `generator` emits, then
    `final_ops` (stop every enabled fault) and `nemesis.heal_all` at the end."""

    nemesis: CompositeNemesis
    generator: Generator | None
    final_ops: list[OpRequest] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)

    @property
    def requires_faketime(self) -> bool:
        return "clock" in self.faults


def make_fault(
    name: str, rng: random.Random, claims: Claims | None = None, **options: Any
) -> Fault:
    """One fault family by name, e.g. for a test or a custom package."""
    if name not in FAULT_CLASSES:
        raise NemesisError(f"unknown fault {name!r} (expected one of {', '.join(FAULTS)})")
    return FAULT_CLASSES[name](rng, claims, **options)


def _check_names(names: Sequence[str]) -> list[str]:
    if SCENARIOS in names and len(set(names)) > 1:
        raise NemesisError(
            f"{SCENARIOS} is a whole schedule of its own: name it alone, or list faults without it"
        )
    unknown = [n for n in names if n not in FAULTS and n != SCENARIOS]
    if unknown:
        raise NemesisError(f"unknown fault {unknown[0]!r} (expected one of {', '.join(FAULTS)})")
    return list(dict.fromkeys(names))


def requires_faketime(names: Sequence[str], schedule: Sequence[Any] | None = None) -> bool:
    """Whether nodes must start under libfaketime (options["faketime"]=True) for these
    faults, including clock faults that only an explicit schedule names."""
    if "clock" in names:
        return True
    if SCENARIOS in names and not schedule:  # clock scenarios, where libfaketime is here
        return os.path.exists(FAKETIME_LIB)
    return bool(schedule) and "clock" in faults_in(explicit_ops(schedule))


def build(
    names: Sequence[str],
    *,
    interval_s: float = 10.0,
    targets: Sequence[str] | None = None,
    schedule: Sequence[Any] | None = None,
    rng: random.Random | None = None,
    nodes: Sequence[str] | None = None,
    partition_mechanism: str = "blackhole",
) -> NemesisPackage:
    """The nemesis package for these fault names.

    With an explicit `schedule` it replaces the random one, and any fault it names is
    enabled too. `nodes` (optional) lets the schedule's node names be checked now."""
    rng = rng or random.Random(0)
    if SCENARIOS in names:
        if not schedule:
            _check_names(names)
            return _scenario_package(interval_s, rng, partition_mechanism)
        names = []  # an explicit schedule replaces the default, as it replaced the random one
    enabled = _check_names(names)
    generator: Generator | None = None
    if schedule:
        ops = explicit_ops(schedule, nodes)
        enabled = list(dict.fromkeys([*enabled, *faults_in(ops)]))
        generator = ExplicitSchedule(ops)
    schedule_seed = repr(derive_rng(rng, "schedule").random())
    if generator is None and enabled:
        generator = RandomSchedule(
            RandomPlan(enabled, float(interval_s), schedule_seed, list(targets or []) or None)
        )
    claims = Claims()
    faults = []
    for name in enabled:
        options = {"mechanism": partition_mechanism} if name == "partition" else {}
        faults.append(make_fault(name, derive_rng(rng, f"fault/{name}"), claims, **options))
    nemesis = CompositeNemesis(faults)
    final = [
        OpRequest(f=stop_f(f.fault), value=None, extra={"final": True}) for f in nemesis.faults
    ]
    return NemesisPackage(
        nemesis=nemesis,
        generator=generator,
        final_ops=final,
        faults=[f for f in HEAL_ORDER if f in enabled],
    )


def _scenario_package(
    interval_s: float, rng: random.Random, partition_mechanism: str
) -> NemesisPackage:
    """The default package: every fault a scenario may use; setup keeps the usable ones."""
    plan = ScenarioPlan(repr(derive_rng(rng, "scenarios").random()), float(interval_s))
    claims = Claims()
    faults = []
    for name in SCENARIO_FAULTS:
        options = {"mechanism": partition_mechanism} if name == "partition" else {}
        faults.append(make_fault(name, derive_rng(rng, f"fault/{name}"), claims, **options))
    nemesis = ScenarioNemesis(faults, plan, [])
    # in heal order; setup trims the list to the faults it kept
    nemesis.final_ops[:] = [
        OpRequest(f=stop_f(f.fault), value=None, extra={"final": True}) for f in nemesis.faults
    ]
    final = nemesis.final_ops
    return NemesisPackage(
        nemesis=nemesis,
        generator=ScenarioSchedule(plan),
        final_ops=final,
        faults=[f for f in HEAL_ORDER if f in SCENARIO_FAULTS],
    )
