"""append: unique integers appended to a few lists (a0…a4), with reads mixed in.
Reads must always see a prefix of the final list (no lost, reordered or duplicated
elements): the list-append checker derives the order from the reads."""

from __future__ import annotations

import random

from harness.core.generators import OpRequest, Process
from workloads.base import Workload, WorkloadOptions, keyed, pick, read_each, unique_ints


def workload(options: WorkloadOptions) -> Workload:
    keys = [f"a{i}" for i in range(options.keys or 5)]
    next_int = unique_ints()

    def choose(rng: random.Random, process: Process) -> OpRequest:
        key = pick(rng, keys)
        if rng.random() < 0.5:
            return OpRequest("read", None, key)
        return OpRequest("append", next_int(process), key)

    return Workload(name="append", generator=keyed(choose), final=read_each(keys))
