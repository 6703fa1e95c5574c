"""counter: increments of one counter (key "c") and reads. Each read must lie between
the sum of acknowledged increments and the sum of attempted ones.

A setup phase increments by 0 first: raftnode reads an absent key as null, which the
counter checker would not accept as a count. The client resends an unanswered increment
with the same request id: without client dedup it counts twice."""

from __future__ import annotations

import random

from harness.core.generators import OpRequest, Process, seq
from workloads.base import Workload, WorkloadOptions, keyed, read_each


def workload(options: WorkloadOptions) -> Workload:
    key = "c"

    def choose(rng: random.Random, process: Process) -> OpRequest:
        if rng.random() < 0.5:
            return OpRequest("read", None, key)
        return OpRequest("incr", 1 + rng.randrange(options.max_value), key)

    return Workload(
        name="counter",
        generator=keyed(choose),
        final=read_each([key]),
        setup=seq([OpRequest("incr", 0, key, {"setup": True})]),
    )
