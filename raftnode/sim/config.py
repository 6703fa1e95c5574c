"""The shape of one simulated run: cluster size, seed, planted bugs, network faults, tuning."""

from __future__ import annotations

from dataclasses import dataclass

from raftnode.bugs import BugFlags
from raftnode.core.types import NodeConfig

# Wall clock of every simulated node at tick 0 (a plausible time_ns, so lease maths is real).
TICK_NS_BASE = 1_700_000_000_000_000_000


@dataclass
class SimConfig:
    """Shape of one simulated run. Delays are in ticks; `bugs` takes names or BugFlags."""

    nodes: int = 3
    seed: int = 0
    bugs: BugFlags = BugFlags()
    drop: float = 0.0
    duplicate: float = 0.0
    min_delay: int = 1
    max_delay: int = 2
    election_ticks: int = 10
    heartbeat_ticks: int = 2
    snapshot_every: int = 40
    request_timeout_ticks: int = 40
    max_append_entries: int = 8
    tick_ms: int = 10
    fsync_every: int = 4  # no-fsync nodes: ticks between page-cache flushes
    check_every_tick: bool = True

    def __post_init__(self) -> None:
        self.bugs = BugFlags.parse(self.bugs)
        if self.nodes < 1 or self.min_delay < 0 or self.max_delay < self.min_delay:
            raise ValueError("need nodes >= 1 and 0 <= min_delay <= max_delay")

    def node_config(self, index: int) -> NodeConfig:
        return NodeConfig(
            election_ticks=self.election_ticks,
            heartbeat_ticks=self.heartbeat_ticks,
            snapshot_every=self.snapshot_every,
            request_timeout_ticks=self.request_timeout_ticks,
            bugs=self.bugs,
            seed=self.seed * 1000 + index,
            tick_ms=self.tick_ms,
            max_append_entries=self.max_append_entries,
        )
