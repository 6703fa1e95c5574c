"""Fault parameters: what each start op's value may hold, validated with named fields.

Both the explicit YAML schedule and the random schedule produce start-op values through
`normalize`, so a hand-written schedule is checked exactly like a generated one, and a
mistake names its field (`schedule[2].value.topology: unknown topology 'rign'`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from nemeses import topology
from nemeses.base import FAULTS, NemesisError
from nemeses.clock import MODES as CLOCK_MODES
from nemeses.disk import MODES as DISK_MODES
from nemeses.targets import validate_target

# A bare string value means this key, e.g. `{f: kill, value: leader}`.
SHORTHAND = {
    "kill": "target",
    "pause": "target",
    "partition": "topology",
    "clock": "mode",
    "packet": "target",
    "disk": "target",
}


def _number(low: float, high: float) -> Callable[[Any, str], float]:
    def check(raw: Any, where: str) -> float:
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not low <= raw <= high:
            raise NemesisError(
                f"expected a number in [{low:g}, {high:g}], got {raw!r}", where=where
            )
        return float(raw)

    return check


def _choice(options: Sequence[str]) -> Callable[[Any, str], str]:
    def check(raw: Any, where: str) -> str:
        if raw not in options:
            raise NemesisError(
                f"unknown value {raw!r} (expected one of {', '.join(options)})", where=where
            )
        return str(raw)

    return check


def _flag(raw: Any, where: str) -> bool:
    if not isinstance(raw, bool):
        raise NemesisError(f"expected true or false, got {raw!r}", where=where)
    return raw


def _any(raw: Any, where: str) -> Any:
    return raw


FIELDS: dict[str, dict[str, Callable[[Any, str], Any]]] = {
    "kill": {"target": _any},
    "pause": {"target": _any},
    "partition": {
        "topology": _choice(topology.TOPOLOGIES),
        "grudge": _any,
        "node": _any,
        "verify": _flag,
    },
    "clock": {
        "mode": _choice(CLOCK_MODES),
        "target": _any,
        "offset_ms": _number(-3.0e5, 3.0e5),
        "delta_ms": _number(1, 3.0e5),
        "period_ms": _number(1, 60_000),
        "duration_s": _number(0, 3600),
    },
    "packet": {
        "target": _any,
        "probability": _number(0.0001, 1.0),
        "mode": _choice(("loss", "chaos")),
        "drop": _number(0.0, 1.0),
        "duplicate": _number(0.0, 1.0),
        "delay": _number(0.0, 1.0),
        "reorder": _number(0.0, 1.0),
        "delay_ms": _number(0.0, 60_000),
        "reorder_ms": _number(0.0, 60_000),
    },
    "disk": {
        "target": _any,
        "corrupt": _choice(DISK_MODES),
        "delay_ms": _number(0.0, 10_000),
        "jitter_ms": _number(0.0, 10_000),
        "leader_ms": _number(0.0, 10_000),
    },
}


def normalize(
    fault: str, value: Any, where: str, nodes: Sequence[str] | None = None
) -> dict[str, Any]:
    """The validated start-op value for `fault`; errors name `where` and the field."""
    if fault not in FAULTS:
        raise NemesisError(
            f"unknown fault {fault!r} (expected one of {', '.join(FAULTS)})", where=where
        )
    if value is None:
        value = {}
    elif isinstance(value, str | list):
        value = {SHORTHAND[fault]: value}
    if not isinstance(value, dict):
        raise NemesisError(f"expected a mapping of parameters, got {value!r}", where=where)
    known = FIELDS[fault]
    out: dict[str, Any] = {}
    for key, raw in value.items():
        if key not in known:
            raise NemesisError(
                f"unknown parameter for {fault} (known: {', '.join(known)})", where=f"{where}.{key}"
            )
        out[key] = known[key](raw, f"{where}.{key}")
    if "target" in out:
        validate_target(out["target"], nodes, f"{where}.target")
    if fault == "partition":
        _check_partition(out, where, nodes)
    if fault == "disk":
        _check_disk(out, where)
    return out


def _check_disk(out: dict[str, Any], where: str) -> None:
    if "corrupt" in out and {"delay_ms", "jitter_ms", "leader_ms"} & set(out):
        raise NemesisError(
            "corrupt (damage the WAL) and delay_ms/jitter_ms/leader_ms (a slow disk) are "
            "separate modes: give one or the other",
            where=where,
        )


def _check_partition(out: dict[str, Any], where: str, nodes: Sequence[str] | None) -> None:
    name = out.setdefault("topology", "grudge" if "grudge" in out else "halves")
    if name == "grudge":
        if "grudge" not in out:
            raise NemesisError(
                "topology grudge needs a grudge {node: [nodes it cannot reach]}",
                where=f"{where}.grudge",
            )
        if nodes is not None:
            topology.parse_grudge(out["grudge"], nodes, f"{where}.grudge")
        elif not isinstance(out["grudge"], dict) or not out["grudge"]:
            raise NemesisError(
                "expected a mapping {node: [nodes it cannot reach]}", where=f"{where}.grudge"
            )
    elif "grudge" in out:
        raise NemesisError(f"only used with topology grudge, not {name}", where=f"{where}.grudge")
    if "node" in out:
        if name != "one":
            raise NemesisError("only used with topology one", where=f"{where}.node")
        validate_target(out["node"], nodes, f"{where}.node")
