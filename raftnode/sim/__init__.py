"""A deterministic, seeded, in-memory cluster of NodeLogic instances (docs/raftnode-core.md).

One module per job: `config` (SimConfig), `disk` (what survives a crash), `network`
(delays, drops, duplicates, partitions), `cluster` (SimCluster: the world, tick by tick, and
its client history), `invariants` (the safety properties checked after every Ready),
`fuzz` (SimWorkload, SimFaults, simulate) and `cli` (`python -m raftnode.sim`).
"""

from raftnode.sim.cli import main
from raftnode.sim.cluster import ClientOp, SimCluster, SimNode
from raftnode.sim.config import TICK_NS_BASE, SimConfig
from raftnode.sim.disk import Disk
from raftnode.sim.fuzz import SimFaults, SimWorkload, simulate
from raftnode.sim.invariants import Invariants, InvariantViolation
from raftnode.sim.network import Network

__all__ = [
    "TICK_NS_BASE",
    "ClientOp",
    "Disk",
    "InvariantViolation",
    "Invariants",
    "Network",
    "SimCluster",
    "SimConfig",
    "SimFaults",
    "SimNode",
    "SimWorkload",
    "main",
    "simulate",
]
