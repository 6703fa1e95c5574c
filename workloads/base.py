"""The shape every workload has: a client generator, a final-read generator, and the
names the checkers understand (interfaces.md §5, "Ops each workload records").

Why a dataclass and not a class hierarchy: a workload is data the runner composes
(main phase, optional setup phase, final reads); the behaviour lives in the generators.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.core.generators import Generator, OpRequest, Process, fn, seq


@dataclass
class Workload:
    """A workload: ``generator`` drives the clients for the test's time limit,
    ``setup`` (optional) runs once before it, ``final`` issues the final reads after
    recovery (the runner tags them ``final``). ``name`` tells the checkers which checks
    apply (checkers.composite picks the model from it)."""

    name: str
    generator: Generator
    final: Generator | None = None
    setup: Generator | None = None


@dataclass
class WorkloadOptions:
    """Tunables shared by the workloads (from the spec)."""

    keys: int | None = None
    max_value: int = 5


PER_PROCESS_VALUES = 10_000_000


def unique_ints() -> Callable[[Process], int]:
    """Unique ints for set/append: the n-th value of process p is p·10⁷ + n, so values
    never collide and a process's values do not depend on how others interleave
    (reproducibility). The nemesis process never draws from it."""
    counters: dict[Process, int] = {}

    def next_for(process: Process) -> int:
        n = counters.get(process, 0) + 1
        counters[process] = n
        base = process if isinstance(process, int) else 0
        return base * PER_PROCESS_VALUES + n

    return next_for


def read_each(keys: list[str]) -> Generator:
    """One read per key (in order, across processes): the final-read phase."""
    return seq(OpRequest("read", None, key) for key in keys)


def keyed(choose: Callable[[random.Random, Process], OpRequest]) -> Generator:
    """A leaf generator from a function of the process's random stream."""
    return fn(choose)


def pick(rng: random.Random, options: list[Any]) -> Any:
    return options[rng.randrange(len(options))]
