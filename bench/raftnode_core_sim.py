"""Speed of the I/O-free core and of the simulation (no disks, no sockets).

    python bench/raftnode_core_sim.py [--seconds 3]

1. core commit throughput: a 3- and 5-node in-memory cluster with instant delivery; C
   client requests are kept outstanding at the leader (C = 1, 16, 64); prints committed
   and acknowledged writes/s. This is the ceiling the asyncio runtime can reach before
   fsync and TCP costs.
2. simulation speed: simulated ticks/s and invariant-checked schedules/s for a 5-node
   cluster under random faults (what bounds the hypothesis tests).
Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import deque
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's raftnode

from raftnode.core.node import NodeConfig, NodeLogic  # noqa: E402
from raftnode.core.types import ClientRequest, Message, PersistentState  # noqa: E402
from raftnode.sim import SimConfig, SimFaults, simulate  # noqa: E402


def core_throughput(nodes: int, concurrency: int, seconds: float) -> float:
    ids = [f"n{i + 1}" for i in range(nodes)]
    logic = {
        n: NodeLogic(
            n,
            ids,
            NodeConfig(election_ticks=10, heartbeat_ticks=2, snapshot_every=5000, seed=i),
            PersistentState(),
        )
        for i, n in enumerate(ids)
    }
    inbox: deque[Message] = deque()
    acked = 0
    outstanding = 0

    def pump() -> None:
        nonlocal acked, outstanding
        busy = True
        while busy:
            busy = False
            for lg in logic.values():
                while lg.has_ready():
                    busy = True
                    rd = lg.ready()
                    inbox.extend(rd.messages)
                    acked += sum(1 for r in rd.replies if r.ok)
                    outstanding -= len(rd.replies)
                    lg.advance(rd)
            while inbox:
                busy = True
                m = inbox.popleft()
                logic[m.dst].step(m)

    for _ in range(200):
        for lg in logic.values():
            lg.tick(0)
        pump()
        if any(lg.is_leader for lg in logic.values()):
            break
    leader = next(lg for lg in logic.values() if lg.is_leader)
    seq = 0
    start = time.perf_counter()
    acked = 0
    while time.perf_counter() - start < seconds:
        while outstanding < concurrency:
            seq += 1
            outstanding += 1
            leader.submit(ClientRequest(f"h{seq}", "write", f"k{seq % 100}", seq))
        pump()
    return acked / (time.perf_counter() - start)


def sim_speed(seconds: float) -> tuple[float, float]:
    ticks = 0
    runs = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        cfg = SimConfig(nodes=5, seed=runs, drop=0.05, duplicate=0.05, max_delay=4)
        cl = simulate(cfg, 500, faults=SimFaults(every=25, clock=True))
        ticks += cl.now
        runs += 1
    took = time.perf_counter() - start
    return ticks / took, runs / took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()
    print(f"{'nodes':>5} {'concurrency':>11} {'writes/s (core only)':>21}")
    for nodes in (3, 5):
        for c in (1, 16, 64):
            rate = core_throughput(nodes, c, args.seconds)
            print(f"{nodes:>5} {c:>11} {rate:>21,.0f}")
    tps, rps = sim_speed(args.seconds)
    print(f"\nsimulation, 5 nodes with faults: {tps:,.0f} ticks/s, {rps:.1f} checked schedules/s")


if __name__ == "__main__":
    main()
