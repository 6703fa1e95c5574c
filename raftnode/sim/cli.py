"""`python -m raftnode.sim`: run seeded random schedules from the shell.

    python -m raftnode.sim --nodes 5 --seed 0 --seeds 20 --ticks 2000     # correct: all ok
    python -m raftnode.sim --nodes 3 --seeds 20 --bug dup-apply           # finds violations

Exit status 1 when any seed broke an invariant (each one is printed with its seed, which
replays it exactly).
"""

from __future__ import annotations

import argparse

from raftnode.bugs import BUGS
from raftnode.sim.config import SimConfig
from raftnode.sim.fuzz import SimFaults, simulate
from raftnode.sim.invariants import InvariantViolation


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m raftnode.sim", description=__doc__.split("\n")[0])
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seeds", type=int, default=1, help="run this many seeds from --seed")
    ap.add_argument("--ticks", type=int, default=2000)
    ap.add_argument("--bug", action="append", default=[], choices=sorted(BUGS))
    ap.add_argument("--drop", type=float, default=0.05)
    ap.add_argument("--duplicate", type=float, default=0.02)
    ap.add_argument("--max-delay", type=int, default=3)
    ap.add_argument("--clock", action="store_true", help="also skew clocks")
    args = ap.parse_args(argv)
    bad = 0
    for seed in range(args.seed, args.seed + args.seeds):
        cfg = SimConfig(
            nodes=args.nodes,
            seed=seed,
            bugs=frozenset(args.bug),
            drop=args.drop,
            duplicate=args.duplicate,
            max_delay=args.max_delay,
        )
        try:
            cl = simulate(cfg, args.ticks, faults=SimFaults(clock=args.clock))
        except InvariantViolation as exc:
            bad += 1
            print(f"seed {seed}: VIOLATION {exc}")
            continue
        acked = sum(1 for op in cl.history if op.ok)
        print(
            f"seed {seed}: ok ({len(cl.history)} ops, {acked} acknowledged, max commit {max(cl.inv.committed, default=0)})"
        )
    return 1 if bad else 0
