"""The simulated network: per-message random delay (hence reordering), drops, duplicates,
directed blocks for partitions and holds for slow links."""

from __future__ import annotations

import heapq
import random

from raftnode.core.types import Message
from raftnode.sim.config import SimConfig


class Network:
    """Messages in flight, ordered by delivery tick; partitions as blocked directed pairs."""

    def __init__(self, rng: random.Random, cfg: SimConfig) -> None:
        self.rng = rng
        self.cfg = cfg
        self.queue: list[tuple[int, int, Message]] = []
        self.seq = 0
        self.blocked: set[tuple[str, str]] = set()
        self.held: set[tuple[str, str]] = set()
        self.holding: list[Message] = []
        self.sent = 0
        self.dropped = 0

    def send(self, msg: Message, now: int) -> None:
        self.sent += 1
        copies = 2 if self.rng.random() < self.cfg.duplicate else 1
        for _ in range(copies):
            if self.rng.random() < self.cfg.drop:
                self.dropped += 1
                continue
            self.seq += 1
            delay = self.rng.randint(self.cfg.min_delay, self.cfg.max_delay)
            heapq.heappush(self.queue, (now + delay, self.seq, msg))

    def due(self, now: int) -> list[Message]:
        out = []
        while self.queue and self.queue[0][0] <= now:
            msg = heapq.heappop(self.queue)[2]
            if (msg.src, msg.dst) in self.blocked:
                self.dropped += 1
                continue
            if (msg.src, msg.dst) in self.held:
                self.holding.append(msg)
                continue
            out.append(msg)
        return out

    def release(self, src: str, dst: str, now: int) -> None:
        """Stop holding src->dst; what was held is delivered at the next delivery pass."""
        self.held.discard((src, dst))
        keep = []
        for m in self.holding:
            if (m.src, m.dst) == (src, dst):
                self.seq += 1
                heapq.heappush(self.queue, (now, self.seq, m))
            else:
                keep.append(m)
        self.holding = keep
