"""Random traffic and random faults for the simulation, and `simulate()` that runs both.

`SimWorkload` and `SimFaults` are the simulation's own, tick-driven cousins of the harness's
workloads and nemeses (they step an in-memory `SimCluster`, not real hosts), hence the
`Sim` prefix: a reader meeting `Nemesis` or `Workload` should only ever find the harness's.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from raftnode.sim.cluster import SimCluster
from raftnode.sim.config import SimConfig


@dataclass
class SimWorkload:
    """Random client traffic: register writes/reads, appends with (client_id, seq) and
    retries of timed-out appends at another node (what a real client does)."""

    rate: float = 0.5  # ops per tick
    keys: int = 2
    read_share: float = 0.4
    append_share: float = 0.2
    retry: bool = True
    _n: int = 0
    _retried: set[str] = field(default_factory=set)

    def step(self, cl: SimCluster, rng: random.Random) -> None:
        if rng.random() < self.rate:
            self._n += 1
            nid = rng.choice(cl.ids)
            r = rng.random()
            if r < self.read_share:
                cl.submit(nid, "read", f"k{rng.randrange(self.keys)}")
            elif r < self.read_share + self.append_share:
                cl.submit(nid, "append", "list", f"a{self._n}", client_id=f"c{self._n}", seq=1)
            else:
                cl.submit(nid, "write", f"k{rng.randrange(self.keys)}", f"v{self._n}")
        if self.retry:
            for cop in cl.history[-50:]:
                if (
                    cop.op == "append"
                    and cop.reply is not None
                    and cop.reply.error == "timeout"
                    and cop.handle not in self._retried
                ):
                    self._retried.add(cop.handle)
                    others = [n for n in cl.ids if n != cop.node] or cl.ids
                    cmd = cop.command or {}
                    cl.submit(
                        rng.choice(others),
                        "append",
                        cop.key,
                        cop.value,
                        client_id=cmd.get("client_id"),
                        seq=cmd.get("seq"),
                    )


@dataclass
class SimFaults:
    """Random faults: crash/restart, partitions, clock skew; one change every `every` ticks."""

    every: int = 40
    crash: bool = True
    partition: bool = True
    clock: bool = False
    max_down: int | None = None

    def step(self, cl: SimCluster, rng: random.Random) -> None:
        if cl.now % self.every:
            return
        choices = ["heal", "restart"]
        if self.crash:
            choices += ["crash", "crash-leader", "pause"]
        if self.partition:
            choices += ["isolate", "isolate-leader", "split"]
        if self.clock:
            choices += ["clock"]
        what = rng.choice(choices)
        down = [n for n in cl.ids if not cl.nodes[n].up]
        max_down = self.max_down if self.max_down is not None else (len(cl.ids) - 1) // 2
        if what == "heal":
            cl.heal()
            for n in cl.ids:
                cl.resume(n)
        elif what == "pause":
            cl.pause(cl.leader() or rng.choice(cl.ids))
        elif what == "restart":
            for n in down:
                cl.restart(n)
        elif what in ("crash", "crash-leader") and len(down) < max(max_down, 1):
            target = cl.leader() if what == "crash-leader" else None
            cl.crash(target or rng.choice(cl.ids))
        elif what in ("isolate", "isolate-leader"):
            target = cl.leader() if what == "isolate-leader" else None
            cl.isolate(target or rng.choice(cl.ids))
        elif what == "split":
            ids = list(cl.ids)
            rng.shuffle(ids)
            cut = rng.randrange(1, len(ids)) if len(ids) > 1 else 1
            cl.partition([ids[:cut], ids[cut:]])
        elif what == "clock":
            cl.skew(rng.choice(cl.ids), rng.choice([-1, 1]) * rng.randrange(10**9, 10**11))


def simulate(
    cfg: SimConfig, ticks: int, workload: SimWorkload | None = None, faults: SimFaults | None = None
) -> SimCluster:
    """One seeded run: traffic + faults for `ticks`, then settle. Raises InvariantViolation."""
    cl = SimCluster(cfg)
    rng = random.Random(cfg.seed * 7919 + 1)
    workload = workload or SimWorkload()
    for _ in range(ticks):
        if faults:
            faults.step(cl, rng)
        workload.step(cl, rng)
        cl.tick()
    cl.settle()
    return cl
