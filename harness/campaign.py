"""Campaign specs: a matrix of tests, expanded into cells and validated up front.

A campaign YAML names a ``base`` (test-spec fields, exactly as in ``splitbrain test
-f``) and ``matrices``: groups, each with optional ``overrides`` (more spec fields) and
axes — ``db``, ``workload``, ``nemesis`` (a list of fault sets), ``bugs`` (a list of
bug sets), ``db_version`` (sets ``db_options.version``), ``db_options`` (a list of
mappings, merged over the base's) — plus ``seeds`` (a count starting at ``seed_base``,
default 1, or an explicit list). A group's cells are the cross product of its axes and
seeds; the campaign is the union of its groups' cells (docs/campaigns.md).

Why validate everything first: a typo in the 40th cell must not surface after an hour
of running the first 39. Every cell goes through the same checks as `splitbrain test`
(harness.spec.build_spec, then the DB, bug and hosts-file checks of
harness.test_command), and an error names the file, the group and the cell.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.core.protocols import HarnessError
from harness.spec import TestSpec, build_spec, validate_spec

AXES = ("db", "workload", "nemesis", "bugs", "db_version", "db_options")
GROUP_KEYS = (*AXES, "overrides", "seeds", "seed_base")
TOP_KEYS = ("name", "base", "matrices")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class CampaignError(HarnessError):
    """A campaign file that cannot run; one line naming the file and the place."""


@dataclass
class Cell:
    """One test of the campaign: its validated spec and what makes it this cell."""

    index: int
    group: int
    params: dict[str, Any]
    seed: int
    repeat: int
    spec: TestSpec
    key: str = ""

    @property
    def label(self) -> str:
        """Short human name: "etcd kv partition+kill seed=3" (plus bugs, options)."""
        s = self.spec
        parts = [s.db, s.workload, "+".join(s.nemesis) or "none"]
        if s.nemesis_schedule:
            parts[-1] += "+schedule"
        if s.bugs:
            parts.append("bugs=" + ",".join(s.bugs))
        if "db_options" in self.params or "db_version" in self.params:
            shown = ",".join(f"{k}={v}" for k, v in sorted(s.db_options.items()))
            parts.append(f"opts={shown or '-'}")
        parts.append(f"seed={self.seed}")
        if self.repeat > 1:
            parts.append(f"r{self.repeat}")
        return " ".join(parts)

    def describe(self) -> dict[str, Any]:
        """The cell's parameters as recorded in campaign.json."""
        s = self.spec
        return {
            "group": self.group,
            "db": s.db,
            "workload": s.workload,
            "nemesis": list(s.nemesis),
            "schedule": bool(s.nemesis_schedule),
            "bugs": list(s.bugs),
            "db_options": dict(s.db_options),
            "seed": self.seed,
            "repeat": self.repeat,
        }


@dataclass
class Campaign:
    name: str
    source: str
    cells: list[Cell] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)


def _load_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CampaignError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CampaignError(f"{path}: cannot read ({exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "yaml"
        raise CampaignError(
            f"{path}: {where}: invalid YAML ({getattr(exc, 'problem', exc)})"
        ) from None
    if not isinstance(data, dict):
        raise CampaignError(f"{path}: expected a mapping with name, base and matrices")
    return data


def _choices(source: str, axis: str, raw: Any) -> list[Any]:
    """The values of one axis: a scalar is one value; a list lists the values. For
    nemesis and bugs each item is one set (a list or a comma string); db_options items
    are mappings."""
    values = raw if isinstance(raw, list) else [raw]
    if not values:
        raise CampaignError(f"{source}.{axis}: an empty list gives no cells")
    if axis == "db_options":
        for i, item in enumerate(values):
            if not isinstance(item, dict):
                raise CampaignError(f"{source}.{axis}[{i}]: expected a mapping, got {item!r}")
    return values


def _seeds(source: str, group: dict[str, Any], base: TestSpec) -> list[int]:
    raw = group.get("seeds", 1)
    start = group.get("seed_base", base.seed if base.seed is not None else 1)
    if isinstance(start, bool) or not isinstance(start, int) or start < 0:
        raise CampaignError(f"{source}.seed_base: expected an integer >= 0, got {start!r}")
    if isinstance(raw, list):
        if not raw or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in raw
        ):
            raise CampaignError(f"{source}.seeds: expected integers >= 0, got {raw!r}")
        return list(dict.fromkeys(raw))
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        raise CampaignError(
            f"{source}.seeds: expected a count >= 1 or a list of seeds, got {raw!r}"
        )
    return list(range(start, start + raw))


def _cell_data(
    base: dict[str, Any], overrides: dict[str, Any], combo: dict[str, Any]
) -> dict[str, Any]:
    data = {**base, **overrides}
    options = {**(base.get("db_options") or {}), **(overrides.get("db_options") or {})}
    for axis, value in combo.items():
        if axis == "db_options":
            options.update(value)
        elif axis == "db_version":
            options["version"] = value
        else:
            data[axis] = value
    if options:
        data["db_options"] = options
    return data


def cell_key(spec: TestSpec, repeat: int) -> str:
    """A stable id of what a cell runs (its whole spec but name and store, and its
    repetition): a resumed campaign skips a finished cell only if this is unchanged."""
    data = {k: v for k, v in spec.to_dict().items() if k not in ("name", "store")}
    raw = json.dumps({"spec": data, "repeat": repeat}, sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def _check_cell(spec: TestSpec, source: str) -> None:
    """`splitbrain test`'s own checks (DB, bugs, the DB's preflight, hosts file)."""
    validate_spec(spec, source)


def load_campaign(path: str | Path, *, repeat: int = 1, store: str | None = None) -> Campaign:
    """Read, expand and validate a campaign file; CampaignError/SpecError on any problem."""
    path = Path(path)
    data = _load_yaml(path)
    src = str(path)
    unknown = [k for k in data if k not in TOP_KEYS]
    if unknown:
        raise CampaignError(f"{src}: {unknown[0]}: unknown field (known: {', '.join(TOP_KEYS)})")
    name = str(data.get("name") or path.stem)
    if not _NAME_RE.match(name):
        raise CampaignError(f"{src}: name: expected letters, digits, '.', '_' or '-', got {name!r}")
    base_raw = data.get("base") or {}
    if not isinstance(base_raw, dict):
        raise CampaignError(f"{src}: base: expected a mapping of test-spec fields")
    if "test_count" in base_raw or "test-count" in base_raw:
        raise CampaignError(f"{src}: base.test_count: a campaign repeats with seeds or --repeat")
    base = build_spec(base_raw, f"{src}: base")
    groups = data.get("matrices")
    if not isinstance(groups, list) or not groups:
        raise CampaignError(f"{src}: matrices: expected a list of groups (each with axes)")
    campaign = Campaign(name=name, source=src, raw=data)
    for rep in range(1, repeat + 1):
        for g, group in enumerate(groups):
            campaign.cells += _expand(src, g, group, base_raw, base, rep, len(campaign.cells))
    for cell in campaign.cells:
        cell.spec.name = f"c{cell.index:03d}-{cell.spec.db}-{cell.spec.workload}"[:64]
        if store is not None:
            cell.spec.store = store
    return campaign


def _expand(
    src: str, g: int, group: Any, base_raw: dict[str, Any], base: TestSpec, rep: int, first: int
) -> list[Cell]:
    where = f"{src}: matrices[{g}]"
    if not isinstance(group, dict):
        raise CampaignError(f"{where}: expected a mapping of axes ({', '.join(GROUP_KEYS)})")
    group = {str(k).replace("-", "_"): v for k, v in group.items()}
    for key in group:
        if key not in GROUP_KEYS:
            raise CampaignError(f"{where}.{key}: unknown field (known: {', '.join(GROUP_KEYS)})")
    overrides = group.get("overrides") or {}
    if not isinstance(overrides, dict):
        raise CampaignError(f"{where}.overrides: expected a mapping of test-spec fields")
    if "test_count" in overrides:
        raise CampaignError(
            f"{where}.overrides.test_count: a campaign repeats with seeds or --repeat"
        )
    build_spec({**base_raw, **overrides}, f"{where}.overrides")  # report bad overrides as such
    axes = [a for a in AXES if a in group]
    choices = [_choices(where, a, group[a]) for a in axes]
    cells = []
    for combo_values in itertools.product(*choices):
        combo = dict(zip(axes, combo_values, strict=True))
        for seed in _seeds(where, group, base):
            shown = ", ".join(f"{a}={v}" for a, v in combo.items()) or "base"
            source = f"{where} ({shown}, seed={seed})"
            spec = build_spec({**_cell_data(base_raw, overrides, combo), "seed": seed}, source)
            _check_cell(spec, source)
            cell = Cell(first + len(cells) + 1, g, combo, seed, rep, spec)
            cell.key = cell_key(spec, rep)
            cells.append(cell)
    return cells
