"""kv: several independent cas registers (k0…k9 by default). The checker splits the
history by key (P-compositionality), which keeps linearizability checking cheap even
at high concurrency — the Jepsen advice for avoiding checker blow-up."""

from __future__ import annotations

import random

from harness.core.generators import OpRequest, Process
from workloads.base import Workload, WorkloadOptions, keyed, pick, read_each
from workloads.register import register_op


def workload(options: WorkloadOptions) -> Workload:
    keys = [f"k{i}" for i in range(options.keys or 10)]

    def choose(rng: random.Random, process: Process) -> OpRequest:
        return register_op(rng, pick(rng, keys), options.max_value)

    return Workload(name="kv", generator=keyed(choose), final=read_each(keys))
