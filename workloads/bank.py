"""bank: transfers between accounts that each start at INITIAL_BALANCE (written in a
setup phase), and reads of single accounts. Balances must never go negative and,
summed over a consistent cut, always equal the initial total.

raftnode has no multi-key read, so reads are per account (interfaces.md §2): the
checker can verify non-negativity and the final total, not totals of mid-test reads."""

from __future__ import annotations

import random

from harness.core.generators import OpRequest, Process, seq
from workloads.base import Workload, WorkloadOptions, keyed, pick, read_each

INITIAL_BALANCE = 100


def workload(options: WorkloadOptions) -> Workload:
    accounts = [f"acct{i}" for i in range(options.keys or 5)]

    def choose(rng: random.Random, process: Process) -> OpRequest:
        if rng.random() < 0.5:
            return OpRequest("read", None, pick(rng, accounts))
        source, target = rng.sample(accounts, 2)
        amount = 1 + rng.randrange(options.max_value)
        return OpRequest("transfer", {"from": source, "to": target, "amount": amount})

    setup = seq(
        OpRequest("write", INITIAL_BALANCE, account, {"setup": True}) for account in accounts
    )
    return Workload(name="bank", generator=keyed(choose), final=read_each(accounts), setup=setup)
