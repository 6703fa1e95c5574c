"""The test spec: one validated object built from CLI flags and/or a YAML file.

Why one object: everything downstream (runner, nemeses, report, test.yaml in the store)
reads the same fields, and every bad value is caught here, before anything starts, with
an error that names its source and field, e.g.
``spec.yaml: nemesis.interval: expected a number > 0, got 'abc'``.

Two steps, both here: ``build_spec``/``load_yaml`` check each source's values (types,
ranges, names, the explicit schedule through the nemeses' own parser), and
``validate_spec`` checks the final spec against what it names (the DB in the registry,
the DB's own planted-bug names, the ssh hosts file). Each list of names comes from its
owner: faults and targets from ``nemeses``, workloads from ``workloads``, DBs from the
registry, bugs from the DB.

YAML accepts the field names below (dashes or underscores), and a ``nemesis`` that is a
comma string, a list, or a mapping ``{faults, interval, targets, schedule}``.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

import yaml

from harness.core.protocols import DB, HarnessError, SupportsBugs, SupportsPreflight
from harness.dbs.registry import load_db
from nemeses.base import FAULTS, NemesisError
from nemeses.schedule import explicit_ops
from nemeses.targets import TARGETS
from workloads import DEFAULT as DEFAULT_WORKLOAD
from workloads import NAMES as WORKLOADS

CLUSTER_KINDS = ("netns", "local", "ssh")
# The scenario schedule (nemeses.scenarios): short fault sequences aimed at Raft's bug
# classes. Naming faults (--nemesis kill,pause) gives the random schedule of those.
DEFAULT_NEMESIS = ("scenarios",)
SCENARIOS = "scenarios"
# Default client workers per node. Three, not Jepsen's one: a worker bound to an isolated
# or paused leader spends its time blocked on a write, so with one per node almost no
# read reaches the deposed leader while it is cut off (stale-read, lease-read).
CLIENTS_PER_NODE = 3
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

# hardening (issue 11 item 8): the largest value each numeric field accepts, with how the
# error names it. `time_limit: .inf` or `1e308` used to be accepted and run forever;
# every limit is far beyond a sensible test (docs/running.md lists them).
DAY_S = 86_400.0
MAXIMA: dict[str, tuple[float, str]] = {
    "time_limit": (7 * DAY_S, "7 days (604800 s)"),
    "nemesis_interval": (DAY_S, "1 day (86400 s)"),
    "schedule.at": (7 * DAY_S, "7 days (604800 s)"),
    "schedule.duration": (7 * DAY_S, "7 days (604800 s)"),
    "op_timeout": (3_600.0, "1 hour (3600 s)"),
    "recovery_s": (3_600.0, "1 hour (3600 s)"),
    "budget": (DAY_S, "1 day (86400 s)"),
    "rate": (1_000_000.0, "1000000 ops/s"),
    "concurrency": (1_000, "1000 workers"),
    "keys": (1_000_000, "1000000 keys"),
    "test_count": (10_000, "10000 runs"),
}


def _at_most(source: str, path: str, name: str, value: float) -> float:
    """`value`, or a SpecError if it is beyond MAXIMA[name] (also inf)."""
    limit, text = MAXIMA[name]
    if value > limit:
        raise SpecError(source, path, f"expected at most {text}, got {_show(value)}")
    return value


class SpecError(HarnessError):
    """A spec value that is wrong. ``source`` is the file (or "command line"), ``path``
    the field (``nemesis.interval``, ``nemesis_schedule[2].value``), ``problem`` what is
    wrong with it; the message is ``source: path: problem``."""

    def __init__(self, source: str, path: str, problem: str):
        super().__init__(f"{source}: {path}: {problem}")
        self.source = source
        self.path = path
        self.problem = problem


@dataclass(frozen=True)
class ScheduleEntry:
    """One explicit fault: op ``f`` at ``at`` seconds into the test, with ``value``;
    with ``duration``, the matching stop op follows ``duration`` seconds later. Other
    keys are fault parameters, passed through to nemeses.build (which validates them)."""

    at: float
    f: str
    value: Any = None
    duration: float | None = None
    params: dict[str, Any] = field(default_factory=dict)  # e.g. topology: majorities-ring

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"at": self.at, "f": self.f, **self.params}
        if self.value is not None:
            out["value"] = self.value
        if self.duration is not None:
            out["duration"] = self.duration
        return out


@dataclass
class TestSpec:
    """Everything one `splitbrain test` needs. Defaults give the README's default run."""

    __test__ = False  # not a pytest test class

    name: str = ""
    db: str = "raftnode"
    workload: str = DEFAULT_WORKLOAD
    nemesis: list[str] = field(default_factory=lambda: list(DEFAULT_NEMESIS))
    nemesis_interval: float = 4.0
    nemesis_targets: list[str] | None = None
    nemesis_schedule: list[ScheduleEntry] = field(default_factory=list)
    nodes: int = 5
    concurrency: int | None = None  # None: CLIENTS_PER_NODE workers per node
    time_limit: float = 60.0
    seed: int | None = None  # None: chosen at random by the runner, recorded in test.yaml
    cluster: str | None = None  # None: harness.cluster.default_cluster_kind()
    ssh_hosts: str | None = None
    bugs: list[str] = field(default_factory=list)
    test_count: int = 1
    recovery_s: float = 5.0
    rate: float | None = 100.0  # target total ops/s; None: as fast as the DB answers
    keys: int | None = None
    store: str = "store"
    budget: float = 120.0  # seconds the checkers may spend
    op_timeout: float = 5.0
    db_options: dict[str, Any] = field(default_factory=dict)
    # harness/watcher.py: check online during the main phase, stop at the first violation
    stop_on_violation: bool = False
    # Whether a source named the workload (build_spec sets it): only a default workload
    # may fall back to one the DB supports (validate_spec). Not a field: not in test.yaml.
    workload_given: ClassVar[bool] = False

    @property
    def node_names(self) -> list[str]:
        return [f"n{i}" for i in range(1, self.nodes + 1)]

    @property
    def workers(self) -> int:
        return self.concurrency if self.concurrency is not None else CLIENTS_PER_NODE * self.nodes

    @property
    def test_name(self) -> str:
        return self.name or f"{self.db}-{self.workload}"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["nemesis_schedule"] = [e.to_dict() for e in self.nemesis_schedule]
        return out

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


FIELD_NAMES = tuple(f.name for f in fields(TestSpec))


# ----------------------------------------------------------------------------- checks


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _number_field(
    source: str, path: str, raw: Any, *, minimum: float = 0.0, strict: bool = True
) -> float:
    """A float > minimum (or >= when not strict); numeric strings are accepted."""
    value: Any = raw
    if isinstance(raw, str):
        try:
            value = float(raw)
        except ValueError:
            value = None
    ok = (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and value == value  # not NaN
        and (value > minimum if strict else value >= minimum)
    )
    if not ok:
        cmp = ">" if strict else ">="
        raise SpecError(source, path, f"expected a number {cmp} {minimum:g}, got {_show(raw)}")
    return float(value)


def _integer(source: str, path: str, raw: Any, *, minimum: int) -> int:
    value = raw
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SpecError(source, path, f"expected an integer >= {minimum}, got {_show(raw)}")
    return value


def _string(source: str, path: str, raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise SpecError(source, path, f"expected a non-empty string, got {_show(raw)}")
    return raw.strip()


def _choice(source: str, path: str, raw: Any, choices: tuple[str, ...]) -> str:
    value = _string(source, path, raw)
    if value not in choices:
        raise SpecError(source, path, f"expected one of {', '.join(choices)}, got {_show(raw)}")
    return value


def _string_list(source: str, path: str, raw: Any) -> list[str]:
    """A list of strings, from a YAML list or a comma-separated string."""
    if raw is None:
        return []
    if isinstance(raw, str):
        return [part.strip() for part in raw.split(",") if part.strip()]
    if isinstance(raw, list | tuple):
        out = []
        for i, item in enumerate(raw):
            out.extend(_string_list(source, f"{path}[{i}]", _string(source, f"{path}[{i}]", item)))
        return out
    raise SpecError(source, path, f"expected a list or a comma-separated string, got {_show(raw)}")


def _faults(source: str, path: str, raw: Any) -> list[str]:
    names = _string_list(source, path, raw)
    if names in (["none"], ["off"]):
        return []
    for name in names:
        if name not in FAULTS and name != SCENARIOS:
            raise SpecError(
                source,
                path,
                f"unknown fault {name!r} (known: {', '.join(FAULTS)}, {SCENARIOS}, or none)",
            )
    if SCENARIOS in names and len(set(names)) > 1:
        raise SpecError(
            source,
            path,
            f"{SCENARIOS} is a schedule of its own: name it alone, or faults without it",
        )
    return list(dict.fromkeys(names))


def _targets(source: str, path: str, raw: Any) -> list[str] | None:
    if raw is None:
        return None
    targets = _string_list(source, path, raw)
    for target in targets:
        if target not in TARGETS and not re.fullmatch(r"n\d+", target):
            raise SpecError(
                source,
                path,
                f"unknown target {target!r} (use {', '.join(TARGETS)} or node names like n2)",
            )
    return targets or None


def _schedule(source: str, path: str, raw: Any) -> list[ScheduleEntry]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise SpecError(source, path, "expected a list of {at, f, value, duration}")
    entries = []
    for i, item in enumerate(raw):
        where = f"{path}[{i}]"
        if not isinstance(item, dict):
            raise SpecError(source, where, f"expected a mapping with at and f, got {_show(item)}")
        for name in item:
            if not isinstance(name, str):
                raise SpecError(source, f"{where}.{name}", "field names must be strings")
        if "at" not in item:
            raise SpecError(source, f"{where}.at", "missing (seconds into the test)")
        f = item.get("f", item.get("fault"))
        if f is None:
            raise SpecError(
                source, f"{where}.f", "missing (the fault op, e.g. start-partition or kill)"
            )
        duration = item.get("duration")
        entries.append(
            ScheduleEntry(
                at=_at_most(
                    source,
                    f"{where}.at",
                    "schedule.at",
                    _number_field(source, f"{where}.at", item["at"], strict=False),
                ),
                f=_string(source, f"{where}.f", f),
                value=item.get("value"),
                duration=None
                if duration is None
                else _at_most(
                    source,
                    f"{where}.duration",
                    "schedule.duration",
                    _number_field(source, f"{where}.duration", duration),
                ),
                params={
                    k: v
                    for k, v in item.items()
                    if k not in ("at", "f", "fault", "value", "duration")
                },
            )
        )
    return entries  # in the file's order, so errors name the entry the user wrote


def _normalise_keys(source: str, data: dict[Any, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if not isinstance(key, str):
            raise SpecError(source, str(key), "field names must be strings")
        out[key.replace("-", "_")] = value
    return out


def _flatten_nemesis(source: str, data: dict[str, Any]) -> None:
    """Turn ``nemesis: {faults, interval, targets, schedule}`` into the flat fields."""
    nemesis = data.get("nemesis")
    if not isinstance(nemesis, dict):
        return
    nemesis = _normalise_keys(source, nemesis)
    allowed = {
        "faults": "nemesis",
        "interval": "nemesis_interval",
        "targets": "nemesis_targets",
        "schedule": "nemesis_schedule",
    }
    for key in nemesis:
        if key not in allowed:
            raise SpecError(
                source, f"nemesis.{key}", f"unknown field (known: {', '.join(allowed)})"
            )
    if "faults" in nemesis:
        data["nemesis"] = nemesis["faults"]
    elif "schedule" in nemesis:
        data["nemesis"] = []  # an explicit schedule alone: no random faults beside it
    else:
        del data["nemesis"]  # only interval/targets: the default nemesis with them
    for key, flat in allowed.items():
        if key != "faults" and key in nemesis:
            data[flat] = (nemesis[key], f"nemesis.{key}")


def build_spec(data: dict[str, Any], source: str, base: TestSpec | None = None) -> TestSpec:
    """Validate ``data`` (YAML mapping or CLI values) on top of ``base`` (defaults)."""
    spec = (
        TestSpec(**{f.name: getattr(base, f.name) for f in fields(TestSpec)})
        if base
        else TestSpec()
    )
    data = _normalise_keys(source, data)
    _flatten_nemesis(source, data)
    for key in data:
        if key not in FIELD_NAMES:
            raise SpecError(source, key, f"unknown field (known: {', '.join(FIELD_NAMES)})")

    def get(name: str) -> tuple[bool, Any, str]:
        if name not in data:
            return False, None, name
        value = data[name]
        if (
            isinstance(value, tuple)
            and len(value) == 2
            and isinstance(value[1], str)
            and value[1].startswith("nemesis.")
        ):
            return True, value[0], value[1]
        return True, value, name

    paths: dict[str, str] = {}
    for name in FIELD_NAMES:
        present, raw, path = get(name)
        if not present:
            continue
        setattr(spec, name, _convert(source, name, path, raw))
        paths[name] = path
    if "workload" in data or (base is not None and base.workload_given):
        spec.workload_given = True
    _cross_check(source, spec)
    _check_schedule(source, paths.get("nemesis_schedule", "nemesis_schedule"), spec)
    spec.nemesis_schedule = sorted(spec.nemesis_schedule, key=lambda e: e.at)
    return spec


def _convert(source: str, name: str, path: str, raw: Any) -> Any:  # noqa: C901 - a flat dispatch
    optional = {"concurrency", "seed", "cluster", "ssh_hosts", "keys", "rate", "nemesis_targets"}
    if raw is None and name in optional:
        return None
    if name == "name":
        if raw in (None, ""):
            return ""  # default: <db>-<workload>
        value = _string(source, path, raw)
        if not _NAME_RE.match(value):
            raise SpecError(
                source, path, f"expected letters, digits, '.', '_' or '-', got {_show(raw)}"
            )
        return value
    if name == "db":
        return "null" if raw is None else _string(source, path, raw)  # YAML reads `null` as None
    if name == "workload":
        return _choice(source, path, raw, WORKLOADS)
    if name == "nemesis":
        return _faults(source, path, raw)
    if name == "nemesis_targets":
        return _targets(source, path, raw)
    if name == "nemesis_schedule":
        return _schedule(source, path, raw)
    if name == "cluster":
        return _choice(source, path, raw, CLUSTER_KINDS)
    if name in ("ssh_hosts", "store"):
        return _string(source, path, raw)
    if name == "bugs":
        return _string_list(source, path, raw)
    if name == "nodes":
        return _integer(source, path, raw, minimum=1)
    if name in ("concurrency", "test_count", "keys"):
        return _at_most(source, path, name, _integer(source, path, raw, minimum=1))
    if name == "seed":
        return _integer(source, path, raw, minimum=0)
    if name in ("time_limit", "nemesis_interval", "budget", "op_timeout", "rate"):
        return _at_most(source, path, name, _number_field(source, path, raw))
    if name == "recovery_s":
        return _at_most(source, path, name, _number_field(source, path, raw, strict=False))
    if name == "stop_on_violation":
        if not isinstance(raw, bool):
            raise SpecError(source, path, f"expected true or false, got {_show(raw)}")
        return raw
    if name == "db_options":
        if not isinstance(raw, dict):
            raise SpecError(source, path, f"expected a mapping, got {_show(raw)}")
        return dict(raw)
    raise SpecError(source, path, "unknown field")  # pragma: no cover - FIELD_NAMES guards


def _cross_check(source: str, spec: TestSpec) -> None:
    if spec.cluster == "ssh" and not spec.ssh_hosts:
        raise SpecError(source, "ssh_hosts", "cluster ssh needs a hosts file (--ssh-hosts FILE)")
    if spec.nodes > 50:
        raise SpecError(source, "nodes", f"expected at most 50 nodes, got {spec.nodes}")
    if spec.nemesis_targets:
        known = set(spec.node_names)
        for target in spec.nemesis_targets:
            if re.fullmatch(r"n\d+", target) and target not in known:
                raise SpecError(
                    source, "nemesis_targets", f"node {target} is not one of n1..n{spec.nodes}"
                )


def _check_schedule(source: str, path: str, spec: TestSpec) -> None:
    """Parse the explicit schedule exactly as nemeses.build will (fault names, start-/stop-
    ops, parameters, overlapping windows, node names), so a typo in an entry is an error
    now, not a failed fault halfway through a run."""
    if not spec.nemesis_schedule:
        return
    try:
        explicit_ops([e.to_dict() for e in spec.nemesis_schedule], spec.node_names, label=path)
    except NemesisError as exc:
        raise SpecError(source, exc.where or path, exc.problem) from None


def validate_spec(spec: TestSpec, source: str) -> TestSpec:
    """Check the final spec against what it names; returns it. Run once, on the spec as it
    will run (a YAML file overlaid by flags), before anything starts: the DB must be
    registered and load, each bug must be one the DB declares (SupportsBugs), an ssh
    hosts file must read and cover every node, and the DB's own preflight must pass
    (SupportsPreflight: a missing binary, an unknown db option, a fault it cannot take)."""
    db = _load_db(spec, source)
    default_workload_for(spec, db)
    _check_bugs(spec, db, source)
    _check_ssh_hosts(spec, source)
    if isinstance(db, SupportsPreflight):
        try:
            db.preflight(spec)
        except HarnessError as exc:
            raise SpecError(source, "db", str(exc)) from None
    return spec


def default_workload_for(spec: TestSpec, db: DB) -> None:
    """A DB that declares ``workloads`` (the ones it can run, its own default first) and
    cannot run the default workload runs its first one instead, when no source named a
    workload; a named workload it cannot run stays an error (its preflight says so)."""
    supported = getattr(db, "workloads", None)
    if spec.workload_given or not supported or spec.workload in supported:
        return
    spec.workload = supported[0]


def _load_db(spec: TestSpec, source: str) -> DB:
    try:
        return load_db(spec.db)
    except HarnessError as exc:
        raise SpecError(source, "db", str(exc)) from None


def _check_bugs(spec: TestSpec, db: DB, source: str) -> None:
    if not spec.bugs:
        return
    if not isinstance(db, SupportsBugs):
        raise SpecError(source, "bugs", f"db {spec.db} has no planted bugs")
    try:
        db.check_bugs(spec.bugs)
    except ValueError as exc:
        raise SpecError(source, "bugs", str(exc)) from None


def _check_ssh_hosts(spec: TestSpec, source: str) -> None:
    if spec.cluster != "ssh":
        return
    from harness.cluster import choose_ssh_hosts  # imports paramiko: only for ssh specs

    try:
        choose_ssh_hosts(spec.node_names, spec.ssh_hosts)
    except HarnessError as exc:
        raise SpecError(source, "ssh_hosts", str(exc)) from None


def load_yaml(path: str | Path, base: TestSpec | None = None) -> TestSpec:
    """Read and validate a YAML spec file; every problem is a SpecError naming the file."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(source, "file", "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(source, "file", f"cannot read ({exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "yaml"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError(source, where, f"invalid YAML ({problem})") from None
    except RecursionError:  # hardening (issue 11 item 5): [[[[… a million deep
        raise SpecError(source, "yaml", "nested too deeply to be a test spec") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SpecError(
            source, "top level", f"expected a mapping of fields, got {type(data).__name__}"
        )
    return build_spec(data, source, base)
