"""What every part of the report reads: the run's ops, paired once, and its fault windows.

Why one object: the plots, the availability table and the counterexample view all need
the same pairing (always `checkers.history.pair_history`, the checkers' own) and the
same fault windows on the same time axis (seconds since the test began, the history's
clock), so they are computed once here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checkers.history import NEMESIS, HistoryError, Op, Operation, pair_history

# One colour per fault kind, shared by every plot so a window looks the same everywhere.
FAULT_COLORS = {
    "partition": "#4e79a7",
    "kill": "#e15759",
    "pause": "#f28e2b",
    "clock": "#76b7b2",
    "packet": "#b07aa1",
    "disk": "#9c755f",
}
OTHER_FAULT_COLORS = ("#bab0ac", "#edc948", "#59a14f", "#ff9da7")


@dataclass(frozen=True)
class FaultWindow:
    """One fault from its start-X completion to its stop-X completion (seconds)."""

    fault: str
    start_s: float
    end_s: float
    label: str  # e.g. "partition leader", "kill n3"
    nodes: tuple[str, ...] = ()  # the nodes it hit, when the nemesis said so

    @property
    def seconds(self) -> float:
        return self.end_s - self.start_s


def fault_color(fault: str) -> str:
    if fault in FAULT_COLORS:
        return FAULT_COLORS[fault]
    return OTHER_FAULT_COLORS[sum(map(ord, fault)) % len(OTHER_FAULT_COLORS)]


def _fault_nodes(value: Any) -> tuple[str, ...]:
    """The nodes a nemesis completion says it hit (a list, or a dict's "nodes")."""
    if isinstance(value, dict):
        value = value.get("nodes")
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    return ()


def _fault_detail(value: Any) -> str:
    """The few words that say what a fault hit: its nodes or its topology."""
    nodes = _fault_nodes(value)
    if nodes:
        return ",".join(nodes)
    if isinstance(value, dict):
        for name in ("topology", "target", "mode"):
            if isinstance(value.get(name), str):
                return value[name]
    return ""


def fault_windows(ops: list[Op], end_ns: int) -> list[FaultWindow]:
    """Windows from start-X … stop-X nemesis completions, in start order. A fault that
    failed (its completion has an error) did not happen and opens nothing; a window
    never closed lasts until the end of the history."""
    opened: dict[str, tuple[int, str, tuple[str, ...]]] = {}
    windows: list[FaultWindow] = []
    for op in ops:
        if op.process != NEMESIS or op.type == "invoke":
            continue
        if op.f.startswith("start-") and op.error is None:
            fault = op.f[len("start-") :]
            detail = _fault_detail(op.value)
            label = f"{fault} {detail}".strip()
            opened.setdefault(fault, (op.time, label, _fault_nodes(op.value)))
        elif op.f.startswith("stop-") and op.f[len("stop-") :] in opened:
            fault = op.f[len("stop-") :]
            start, label, nodes = opened.pop(fault)
            windows.append(FaultWindow(fault, start / 1e9, op.time / 1e9, label, nodes))
    windows.extend(
        FaultWindow(fault, start / 1e9, end_ns / 1e9, label, nodes)
        for fault, (start, label, nodes) in opened.items()
    )
    return sorted(windows, key=lambda w: (w.start_s, w.fault))


@dataclass
class RunData:
    """A run's history as the report needs it."""

    ops: list[Op]
    operations: list[Operation]  # client ops, paired
    windows: list[FaultWindow]
    end_s: float  # the last event's time
    warnings: list[str] = field(default_factory=list)

    @property
    def faults(self) -> list[str]:
        return list(dict.fromkeys(w.fault for w in self.windows))

    @property
    def keys(self) -> list[Any]:
        return list(dict.fromkeys(op.key for op in self.operations if op.key is not None))


def build_run_data(ops: list[Op]) -> RunData:
    """Pair and window `ops`; a history the checkers could not pair is reported as a
    warning and drawn without its client ops, never a crash of the report."""
    end_ns = max((op.time for op in ops), default=0)
    warnings: list[str] = []
    try:
        paired = pair_history(ops)
        operations, warnings = paired.ops, list(paired.warnings)
    except HistoryError as exc:
        operations, warnings = [], [f"client ops not drawn: {exc}"]
    return RunData(ops, operations, fault_windows(ops, end_ns), end_ns / 1e9, warnings)


def load_ops(run_dir: Path) -> tuple[list[Op], list[str]]:
    """The run's history, read with the checkers' own reader (empty if none)."""
    from checkers.composite import load_store_history

    if not (run_dir / "history.jsonl").is_file():
        return [], ["no history.jsonl in the run directory"]
    try:
        read = load_store_history(run_dir)
    except HistoryError as exc:
        return [], [f"history not readable: {exc}"]
    return read.ops, list(read.warnings)
