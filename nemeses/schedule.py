"""Fault schedules: the random combined schedule and an explicit one from YAML.

Both are harness generators for the process "nemesis" (docs/interfaces.md §6). What
they emit depends only on the seed (random) or the spec (explicit), never on timing:

- Random (Jepsen's combined package, one fault at a time): wait about `interval`, pick
  an enabled fault at random, start it with random parameters, keep it for about
  `interval`, stop it, repeat. Step k draws from its own Random derived from the seed
  and k, so `plan(k)` is a pure function and the same seed gives the same fault ops.
  Waits are measured from when the runner next asks (after the previous fault op
  completed), so a slow fault (a disk restart) does not eat the quiet period.
- Explicit: `[{at: 10, f: partition, value: {topology: majorities-ring}, duration: 8},
  {at: 20, f: kill, value: leader}]` — ops at those seconds into the test, each start
  followed by its stop after `duration` (no duration: it lasts until the final heal).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.core.generators import NEMESIS, Generator, OpRequest, Sleep
from nemeses import params
from nemeses.base import FAULTS, NemesisError, start_f, stop_f
from nemeses.targets import TARGETS

# Random-schedule choices per fault; --nemesis-targets narrows the node targets.
NODE_TARGETS = {
    "kill": ["one", "minority", "majority", "leader", "all"],
    "pause": ["one", "minority", "majority", "leader", "all"],
    "clock": ["one", "minority", "leader", "all"],
    "packet": ["one", "minority", "leader", "all"],
    "disk": ["one", "leader"],
}
# Which target words each partition topology stands for (for --nemesis-targets).
TOPOLOGY_TARGETS = {
    "halves": {"minority", "majority", "minority-third"},
    "one": {"one"},
    "leader": {"leader", "primaries"},
    "majorities-ring": {"all"},
    "bridge": {"all", "majority"},
}


@dataclass(frozen=True)
class FaultOp:
    """One nemesis op of a schedule: `f` with `value`, at `at` seconds (explicit) or
    after waiting `wait_s` (random)."""

    f: str
    value: Any
    at: float | None = None
    wait_s: float = 0.0
    source: str = ""

    def request(self) -> OpRequest:
        return OpRequest(f=self.f, value=self.value)


def allowed_targets(fault: str, targets: Sequence[str] | None) -> list[str]:
    """The node targets the random schedule may use for `fault` under --nemesis-targets."""
    base = NODE_TARGETS[fault]
    if not targets:
        return list(base)
    chosen = [
        t for t in targets if t in base or t == "primaries" and "leader" in base or t not in TARGETS
    ]
    return ["leader" if t == "primaries" else t for t in chosen]


def allowed_topologies(targets: Sequence[str] | None) -> list[str]:
    if not targets:
        return list(TOPOLOGY_TARGETS)
    return [name for name, words in TOPOLOGY_TARGETS.items() if words & set(targets)]


@dataclass
class RandomPlan:
    """The pure part of the random schedule: step k -> (fault, start value, durations)."""

    faults: list[str]
    interval_s: float
    seed: str
    targets: list[str] | None = None
    choices: dict[str, list[Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.faults:
            raise NemesisError("no faults enabled for the random schedule")
        if self.interval_s <= 0:
            raise NemesisError(f"nemesis interval must be > 0 seconds, got {self.interval_s}")
        for fault in self.faults:
            options = (
                allowed_topologies(self.targets)
                if fault == "partition"
                else allowed_targets(fault, self.targets)
            )
            if not options:
                raise NemesisError(
                    f"--nemesis-targets {','.join(self.targets or [])} leaves {fault} nothing to target"
                )
            self.choices[fault] = options

    def step(self, k: int) -> tuple[str, dict[str, Any], float, float]:
        """Fault k: (fault, start value, quiet seconds before it, seconds it lasts)."""
        rng = random.Random(f"{self.seed}/step/{k}")
        fault = rng.choice(self.faults)
        quiet = self.interval_s * rng.uniform(0.5, 1.5)
        duration = self.interval_s * rng.uniform(0.5, 1.5)
        return fault, self._value(fault, rng, duration), quiet, duration

    def _value(self, fault: str, rng: random.Random, duration: float) -> dict[str, Any]:
        options = self.choices[fault]
        if fault == "partition":
            return {"topology": rng.choice(options)}
        value: dict[str, Any] = {"target": rng.choice(options)}
        if fault == "clock":
            mode = rng.choice(["bump", "skew", "strobe"])
            value["mode"] = mode
            if mode == "strobe":
                value.update(
                    delta_ms=rng.choice([100, 500, 2000]),
                    period_ms=rng.choice([10, 50, 200]),
                    duration_s=round(duration, 3),
                )
            else:
                value["offset_ms"] = rng.choice([-1, 1]) * rng.choice([250, 1000, 5000, 30000])
        elif fault == "packet":
            value["probability"] = rng.choice([0.1, 0.2, 0.5])
        elif fault == "disk":
            value["corrupt"] = rng.choice(["truncate", "flip"])
        return value

    def step_ops(self, k: int) -> list[FaultOp]:
        """Fault k as its start and stop FaultOps."""
        fault, value, quiet, duration = self.step(k)
        return [
            FaultOp(start_f(fault), value, wait_s=round(quiet, 6), source=f"step {k}"),
            FaultOp(stop_f(fault), None, wait_s=round(duration, 6), source=f"step {k}"),
        ]

    def ops(self, n_faults: int) -> list[FaultOp]:
        """The first `n_faults` faults as start/stop FaultOps (for tests and previews)."""
        return [op for k in range(n_faults) for op in self.step_ops(k)]


class StepSchedule(Generator):
    """Serves a plan's steps to the nemesis process: step k is a list of (wait, op)
    pairs, each op sent once its wait, counted from when the runner next asks after the
    previous op, has passed. Subclasses say how their plan's step k reads."""

    def __init__(self, plan: Any) -> None:
        self.plan = plan
        self._k = 0
        self._pending: list[tuple[float, OpRequest]] = []
        self._due: float | None = None

    def steps(self, k: int) -> list[tuple[float, OpRequest]]:
        raise NotImplementedError

    def next(self, process: Any, now_s: float) -> OpRequest | Sleep | None:
        if process != NEMESIS:
            return None
        if not self._pending:
            self._pending = self.steps(self._k)
            self._k += 1
        wait, op = self._pending[0]
        if self._due is None:
            self._due = now_s + wait
        if now_s < self._due:
            return Sleep(self._due - now_s)
        self._pending.pop(0)
        self._due = None
        return op


class RandomSchedule(StepSchedule):
    """Serves RandomPlan's ops to the nemesis process, waiting between them."""

    plan: RandomPlan

    def steps(self, k: int) -> list[tuple[float, OpRequest]]:
        return [(op.wait_s, op.request()) for op in self.plan.step_ops(k)]


def _entry_fields(entry: Any, where: str) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
    """(at, f, value, duration, extra top-level params) from a dict or a ScheduleEntry."""
    if isinstance(entry, Mapping):
        data = dict(entry)
        at = data.pop("at", None)
        f = data.pop("f", data.pop("fault", None))
        value = data.pop("value", None)
        duration = data.pop("duration", None)
        return at, f, value, duration, data
    if all(hasattr(entry, a) for a in ("at", "f")):
        return (
            entry.at,
            entry.f,
            getattr(entry, "value", None),
            getattr(entry, "duration", None),
            {},
        )
    raise NemesisError(f"expected a mapping with at and fault, got {entry!r}", where=where)


def explicit_ops(
    schedule: Sequence[Any], nodes: Sequence[str] | None = None, *, label: str = "schedule"
) -> list[FaultOp]:
    """Validate an explicit schedule into timed FaultOps (sorted by time).

    Entries: {at, fault|f, value?, duration?, <params>...}; `fault` may be a fault name
    (start, plus stop after duration), `start-X` or `stop-X`. Parameters may sit in
    `value` or beside it (`{at: 10, fault: partition, topology: majorities-ring}`).
    Errors name the entry as `<label>[i]…` (the spec passes its own field name)."""
    if not isinstance(schedule, Sequence) or isinstance(schedule, str):
        raise NemesisError("expected a list of {at, fault, ...} entries", where=label)
    ops: list[FaultOp] = []
    active: dict[str, tuple[float, float | None, str]] = {}
    entries = []
    for i, entry in enumerate(schedule):
        where = f"{label}[{i}]"
        at, f, value, duration, extra = _entry_fields(entry, where)
        if isinstance(at, bool) or not isinstance(at, int | float) or at < 0:
            raise NemesisError(f"expected seconds >= 0, got {at!r}", where=f"{where}.at")
        if not isinstance(f, str):
            raise NemesisError(f"missing (one of {', '.join(FAULTS)})", where=f"{where}.fault")
        if duration is not None and (
            isinstance(duration, bool) or not isinstance(duration, int | float) or duration <= 0
        ):
            raise NemesisError(f"expected seconds > 0, got {duration!r}", where=f"{where}.duration")
        if extra:
            if value is not None and not isinstance(value, dict):
                raise NemesisError(
                    f"cannot combine {value!r} with {', '.join(extra)}", where=f"{where}.value"
                )
            value = {**(value or {}), **extra}
        entries.append((float(at), i, where, f, value, duration))
    for at, _i, where, f, value, duration in sorted(entries):
        kind, fault = _split_f(f, where)
        if kind == "stop":
            if duration is not None:
                raise NemesisError("a stop op has no duration", where=f"{where}.duration")
            active.pop(fault, None)
            ops.append(FaultOp(stop_f(fault), None, at=at, source=where))
            continue
        start_value = params.normalize(fault, value, f"{where}.value", nodes)
        previous = active.get(fault)
        if previous is not None and (previous[1] is None or previous[1] > at):
            raise NemesisError(
                f"{fault} starts at {at:g}s while the {fault} from {previous[2]} "
                f"(at {previous[0]:g}s) is still active; give it a duration or stop it first",
                where=f"{where}.at",
            )
        end = None if duration is None else at + float(duration)
        active[fault] = (at, end, where)
        ops.append(FaultOp(start_f(fault), start_value, at=at, source=where))
        if end is not None:
            ops.append(FaultOp(stop_f(fault), None, at=end, source=where))
    return sorted(ops, key=lambda op: (op.at, op.f.startswith("start-")))


def _split_f(f: str, where: str) -> tuple[str, str]:
    for kind in ("start", "stop"):
        if f.startswith(kind + "-") and f[len(kind) + 1 :] in FAULTS:
            return kind, f[len(kind) + 1 :]
    if f in FAULTS:
        return "start", f
    raise NemesisError(
        f"unknown fault {f!r} (expected one of {', '.join(FAULTS)}, or start-/stop- one)",
        where=f"{where}.fault",
    )


def faults_in(ops: Sequence[FaultOp]) -> list[str]:
    return list(dict.fromkeys(op.f.split("-", 1)[1] for op in ops))


class ExplicitSchedule(Generator):
    """Serves an explicit schedule's ops at their times, then is exhausted."""

    def __init__(self, ops: Sequence[FaultOp]) -> None:
        self.ops = list(ops)
        self._i = 0

    def next(self, process: Any, now_s: float) -> OpRequest | Sleep | None:
        if process != NEMESIS or self._i >= len(self.ops):
            return None
        op = self.ops[self._i]
        assert op.at is not None
        if now_s < op.at:
            return Sleep(op.at - now_s)
        self._i += 1
        return op.request()
