"""set: add unique integers to one set (appended to key "s"), then one final read.
Every acknowledged add must be in the final read; lost or duplicated elements are
the symptoms of lost writes and missing client dedup (the client resends an unanswered
add with the same request id: docs/nemeses.md, "Clients")."""

from __future__ import annotations

import random

from harness.core.generators import OpRequest, Process
from workloads.base import Workload, WorkloadOptions, keyed, read_each, unique_ints


def workload(options: WorkloadOptions) -> Workload:
    key = "s"
    next_int = unique_ints()

    def choose(rng: random.Random, process: Process) -> OpRequest:
        return OpRequest("append", next_int(process), key)

    return Workload(name="set", generator=keyed(choose), final=read_each([key]))
