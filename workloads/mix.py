"""kv+append, the default: cas registers and append lists in one test, tagged by part.

One register alone (the old default) exercises one key's reads and writes; most planted
bugs need more to show: a lost or twice-applied write is invisible in a register that
is overwritten a moment later, but an appended element stays in its list forever, so
every later read judges it. Each op carries ``"part": "kv"`` or ``"part": "append"``
and the composite checker checks each part's ops as that workload on its own
(``linearizability:kv``, ``append:append``, ...):

- kv (half the ops): read/write/cas on a handful of register keys (k0…k4), checked for
  linearizability key by key, as the kv workload;
- append (the other half): unique integers appended to a few lists (a0…a4) and reads of
  whole lists, checked as the append workload (list-append linearizability, lost,
  duplicated and divergent elements, durability).

The client resends an unanswered request to another node with the same request id, as a
real client does (docs/nemeses.md, "Clients"); Raft's client dedup must make the retry a
no-op, and the dup-apply bug is exactly a retry applied twice, which the append part
sees as a duplicated element.

The final-read phase reads every register key and every list, so loss is judged on all
of them. The total op rate is the spec's ``rate``, shared by both parts.
"""

from __future__ import annotations

import random

from harness.core.generators import OpRequest, Process, seq
from workloads.base import Workload, WorkloadOptions, keyed, pick, unique_ints
from workloads.register import register_op

NAME = "kv+append"
KV_SHARE = 0.5
DEFAULT_KEYS = 5  # per part


def workload(options: WorkloadOptions) -> Workload:
    count = options.keys or DEFAULT_KEYS
    kv_keys = [f"k{i}" for i in range(count)]
    list_keys = [f"a{i}" for i in range(count)]
    next_int = unique_ints()
    kv_tag = {"part": "kv"}
    append_tag = {"part": "append"}

    def choose(rng: random.Random, process: Process) -> OpRequest:
        if rng.random() < KV_SHARE:
            op = register_op(rng, pick(rng, kv_keys), options.max_value)
            return OpRequest(op.f, op.value, op.key, kv_tag)
        key = pick(rng, list_keys)
        if rng.random() < 0.5:
            return OpRequest("read", None, key, append_tag)
        return OpRequest("append", next_int(process), key, append_tag)

    final = seq(
        [OpRequest("read", None, k, kv_tag) for k in kv_keys]
        + [OpRequest("read", None, k, append_tag) for k in list_keys]
    )
    return Workload(name=NAME, generator=keyed(choose), final=final)
