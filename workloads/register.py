"""register: one compare-and-set register (key "r"), checked for linearizability
against the cas-register model. Reads, writes and cas over a small value space, so
cas succeeds often enough to be interesting."""

from __future__ import annotations

import random

from harness.core.generators import OpRequest, Process
from workloads.base import Workload, WorkloadOptions, keyed, read_each


def register_op(rng: random.Random, key: str, max_value: int) -> OpRequest:
    roll = rng.random()
    if roll < 0.5:
        return OpRequest("read", None, key)
    if roll < 0.75:
        return OpRequest("write", rng.randrange(max_value), key)
    return OpRequest("cas", [rng.randrange(max_value), rng.randrange(max_value)], key)


def workload(options: WorkloadOptions) -> Workload:
    key = "r"

    def choose(rng: random.Random, process: Process) -> OpRequest:
        return register_op(rng, key, options.max_value)

    return Workload(name="register", generator=keyed(choose), final=read_each([key]))
