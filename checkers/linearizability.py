"""Linearizability: the entry point `check(ops, model)` and its result.

Pipeline: pair invocations with completions (`checkers.history.pair_history`), let the
model prepare the ops (normalise values, drop what constrains nothing), split per key
(P-compositionality: a history of independent objects is linearizable iff each
object's sub-history is), and search each part (`checkers.lin_search`).

Scheduling, and why: an invalid history usually has one key that fails fast while
others may take long, so parts are interleaved (round-robin slices of a few thousand
search steps) and the first invalid part ends the check, as Porcupine does. Big
histories with several parts are searched in a process pool (one part per task) when
the machine has more than one core; small ones stay in-process, where a pool would
cost more than it saves. Budgets (wall time, memory counted in memo entries) turn an
unfinished search into "unknown" with what was explored, never a guess.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from checkers.compact_history import History
from checkers.history import Op, Operation, pair_history
from checkers.lin_report import counterexample, counterexample_text, key_label
from checkers.lin_search import BYTES_PER_ENTRY, SearchOutcome, part_steps, search, stop
from checkers.models import Model, get_model

UNKNOWN = "unknown"
DEFAULT_BUDGET_S = 60.0
DEFAULT_MEMORY_MB = 1024
# Use a process pool only for histories at least this big (prepared ops) with 2+ parts.
PARALLEL_MIN_OPS = 20_000
NOT_RUN = "not finished: another key is not linearizable"


@dataclass
class KeyResult:
    """The verdict on one part (one key, or the whole history if not split)."""

    key: Any
    valid: bool | str
    ops: int
    configs: int = 0
    seconds: float = 0.0
    reason: str = ""
    max_depth: int = 0
    required: int = 0
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "key": key_label(self.key),
            "valid": self.valid,
            "ops": self.ops,
            "configs": self.configs,
            "seconds": round(self.seconds, 4),
        }
        if self.valid is not True:
            out["linearized_at_most"] = self.max_depth
            out["required"] = self.required
        if self.reason:
            out["reason"] = self.reason
        if self.note:
            out["note"] = self.note
        return out


@dataclass
class LinResult:
    """Verdict of `check`: `valid` is True, False or "unknown"."""

    valid: bool | str
    model: str
    ops: int  # client operations in the history
    checked_ops: int  # after the model dropped what constrains nothing
    keys: list[KeyResult] = field(default_factory=list)
    seconds: float = 0.0
    counterexample: dict[str, Any] | None = None
    counterexample_text: str = ""
    reason: str = ""
    warnings: list[str] = field(default_factory=list)
    parallel: bool = False

    @property
    def configs(self) -> int:
        return sum(k.configs for k in self.keys)

    def to_json(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "model": self.model,
            "ops": self.ops,
            "checked_ops": self.checked_ops,
            "seconds": round(self.seconds, 4),
            "configs": self.configs,
            "parallel": self.parallel,
            "reason": self.reason,
            "keys": [k.to_json() for k in self.keys],
            "counterexample": self.counterexample,
            "warnings": self.warnings,
        }

    def summary(self) -> str:
        parts = f"{len(self.keys)} key(s)" if len(self.keys) != 1 else "1 part"
        head = f"{self.ops} ops, {parts}, {self.configs} configurations, {self.seconds:.2f} s"
        if self.valid is True:
            return f"linearizable ({head})"
        if self.valid is False:
            notes = "".join(f"\n  note: {k.note}" for k in self.keys if k.valid is False and k.note)
            return f"NOT linearizable ({head})\n{self.counterexample_text}{notes}".rstrip()
        return f"unknown: {self.reason} ({head})"


def _prepare(
    ops: Sequence[Op] | Sequence[Operation], model: Model
) -> tuple[int, list[Operation], list[str]]:
    if ops and isinstance(ops[0], Operation):
        paired = [dataclasses.replace(op) for op in ops if isinstance(op, Operation)]
        warnings: list[str] = []
    else:
        # A History is paired as it is (never copied into a list of Ops); its pairing is
        # shared with the other checkers, so an op the model normalises is copied first.
        source = ops if isinstance(ops, History) else [op for op in ops if isinstance(op, Op)]
        history = pair_history(source)
        paired, warnings = [_own(op) for op in history.ops], history.warnings
    prepared = [p for p in (model.prepare(op) for op in paired) if p is not None]
    return len(paired), prepared, warnings


_SCALARS = (int, float, str, bool, type(None))


def _own(op: Operation) -> Operation:
    """`op`, or a copy of it when Model.prepare would rewrite its value or result (only
    collections are frozen): most ops are shared with the other checkers uncopied."""
    if type(op.value) in _SCALARS and type(op.result) in _SCALARS:
        return op
    return dataclasses.replace(op)


def _key_result(
    key: Any, ops: list[Operation], outcome: SearchOutcome, seconds: float
) -> KeyResult:
    return KeyResult(
        key=key,
        valid=outcome.valid,
        ops=len(ops),
        configs=outcome.configs,
        seconds=seconds,
        reason=outcome.reason,
        max_depth=outcome.max_depth,
        required=outcome.required,
        note=outcome.note,
    )


Outcomes = tuple[list[SearchOutcome | None], list[float]]


def _run_serial(
    parts: list[tuple[Any, list[Operation]]], model: Model, deadline: float, max_configs: int
) -> Outcomes:
    """Round-robin over the parts' searches; the first invalid one stops the rest."""
    outcomes: list[SearchOutcome | None] = [None] * len(parts)
    runners = {i: part_steps(ops, model) for i, (_, ops) in enumerate(parts)}
    configs = dict.fromkeys(runners, 0)
    spent: dict[int, float] = dict.fromkeys(runners, 0.0)
    while runners:
        for i in list(runners):
            started = time.monotonic()
            try:
                configs[i] = next(runners[i])
            except StopIteration as done:
                outcomes[i] = done.value
                del runners[i]
            spent[i] += time.monotonic() - started
            if outcomes[i] is not None and outcomes[i].valid is False:  # type: ignore[union-attr]
                for j, runner in runners.items():
                    outcomes[j] = stop(runner, NOT_RUN)
                return outcomes, [spent[j] for j in range(len(parts))]
        reason = ""
        if time.monotonic() > deadline:
            reason = "time budget spent"
        elif sum(configs.values()) > max_configs:
            reason = f"memory budget spent ({sum(configs.values())} configurations)"
        if reason:
            for j, runner in runners.items():
                outcomes[j] = stop(runner, reason)
            break
    return outcomes, [spent[j] for j in range(len(parts))]


# The parts of the check in progress, inherited by forked pool workers (so the ops are
# not pickled through a pipe); only set while a pool runs.
_PARTS: list[tuple[Any, list[Operation]]] = []


def _search_part(args: tuple[int, Model, float, int]) -> tuple[SearchOutcome, float]:
    index, model, deadline, max_configs = args
    started = time.monotonic()
    outcome = search(_PARTS[index][1], model, deadline=deadline, max_configs=max_configs)
    return outcome, time.monotonic() - started


def _run_parallel(
    parts: list[tuple[Any, list[Operation]]],
    model: Model,
    deadline: float,
    max_configs: int,
    workers: int,
) -> Outcomes:
    """One part per task in a forked process pool; the first invalid part terminates
    the pool. Why fork: workers inherit the parts (no pickling of 100k ops) and the
    caller's main module is not re-imported (spawn/forkserver would, and need a
    `__main__` guard in every script that calls `check`)."""
    global _PARTS
    outcomes: list[SearchOutcome | None] = [None] * len(parts)
    seconds = [0.0] * len(parts)
    # Biggest parts first, so that the pool does not end on one long straggler.
    order = sorted(range(len(parts)), key=lambda i: -len(parts[i][1]))
    per_worker = max(1, max_configs // workers)
    _PARTS = parts
    try:
        pool = multiprocessing.get_context("fork").Pool(processes=workers)
    except (OSError, ValueError):
        _PARTS = []
        return _run_serial(parts, model, deadline, max_configs)
    try:
        tasks = pool.imap(_search_part, [(i, model, deadline, per_worker) for i in order])
        for i in order:
            outcome, seconds[i] = tasks.next(timeout=max(1.0, deadline - time.monotonic() + 30))
            outcomes[i] = outcome
            if outcome.valid is False:
                break
    except multiprocessing.TimeoutError:
        pass
    finally:
        pool.terminate()
        pool.join()
        _PARTS = []
    return outcomes, seconds


def check(
    ops: Sequence[Op] | Sequence[Operation],
    model: str | Model = "cas-register",
    *,
    budget_s: float = DEFAULT_BUDGET_S,
    memory_mb: float = DEFAULT_MEMORY_MB,
    workers: int | None = None,
) -> LinResult:
    """Check a history (raw `Op`s in history order, or paired `Operation`s) against a
    model (a name from `checkers.models.MODELS` or an instance).

    `budget_s` bounds wall time and `memory_mb` the memo (estimated); past either the
    verdict is "unknown". `workers`: processes for big multi-key histories (default:
    the CPU count; 1 forces in-process). Raises HistoryError for a history whose ops
    do not pair up, ModelError for an op the model does not know."""
    started = time.monotonic()
    model = get_model(model)
    total, prepared, warnings = _prepare(ops, model)
    parts = model.partition(prepared)
    deadline = started + budget_s
    max_configs = max(1000, int(memory_mb * 2**20 / BYTES_PER_ENTRY))
    if workers is None:
        workers = min(os.cpu_count() or 1, len(parts))
    parallel = (
        workers > 1
        and len(parts) > 1
        and len(prepared) >= PARALLEL_MIN_OPS
        and "fork" in multiprocessing.get_all_start_methods()
        # forking a process that runs other threads can deadlock the child on a lock
        # one of them held; such callers get the (still fast) serial search
        and threading.active_count() == 1
    )
    if parallel:
        outcomes, seconds = _run_parallel(
            parts, model, deadline, max_configs, min(workers, len(parts))
        )
    else:
        outcomes, seconds = _run_serial(parts, model, deadline, max_configs)
    elapsed = time.monotonic() - started

    keys: list[KeyResult] = []
    for (key, part), outcome, spent in zip(parts, outcomes, seconds, strict=True):
        if outcome is None:
            outcome = SearchOutcome(UNKNOWN, reason=NOT_RUN, required=len(part))
        keys.append(_key_result(key, part, outcome, spent))
    result = LinResult(
        valid=True,
        model=model.name,
        ops=total,
        checked_ops=len(prepared),
        keys=keys,
        seconds=elapsed,
        warnings=warnings,
        parallel=parallel,
    )
    bad = [i for i, k in enumerate(keys) if k.valid is False]
    if bad:
        result.valid = False
        i = bad[0]
        key, part = parts[i]
        outcome = outcomes[i]
        assert outcome is not None
        result.counterexample = counterexample(key, part, outcome.dead_ends, model)
        result.counterexample_text = counterexample_text(result.counterexample, part)
    elif any(k.valid != True for k in keys):  # noqa: E712 - "unknown" is truthy
        result.valid = UNKNOWN
        unknown = [k for k in keys if k.valid is not True]
        result.reason = (
            f"{len(unknown)} of {len(keys)} part(s) unfinished: {unknown[0].reason}; "
            f"explored {sum(k.configs for k in unknown)} configurations, deepest "
            f"partial linearization {max(k.max_depth for k in unknown)} of "
            f"{max(k.required for k in unknown)} ops"
        )
    return result
