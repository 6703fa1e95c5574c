"""Slow-disk injection: the settings of POST /admin/disk.

Why: a Raft leader counts its own copy of an entry only once it is durable, while its
AppendEntries leave at once. When the leader's disk is slower than its followers' round
trip, a quorum of followers can hold an entry the leader has not yet persisted, and a
leader that counts replicas of an *older* term's entries (Raft figure 8) commits them
before its own no-op. A healthy local disk syncs in a millisecond or two, so that window
almost never opens; etcd's robustness tests open it with sleeps before and after WAL
saves (gofail failpoints), and this does the same for raftnode.

Each write round that needed an fsync is reported durable ``delay_ms`` plus a uniform
random 0..``jitter_ms`` later than it really was (the data is on disk; only the node's
own acknowledgement of it waits, in order, without blocking the event loop); rounds
written while the node leads wait ``leader_ms`` more: "the leader's disk is the slowest",
whichever node that is — the shape figure 8 needs, and a common one (a leader writes for
every client). All zero: off.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any

from raftnode.netchaos import parse_number

MAX_DELAY_MS = 10_000.0
FIELDS = ("delay_ms", "jitter_ms", "leader_ms")


@dataclass(frozen=True)
class DiskDelay:
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    leader_ms: float = 0.0

    @property
    def active(self) -> bool:
        return self.delay_ms > 0 or self.jitter_ms > 0 or self.leader_ms > 0

    def draw_seconds(self, rng: random.Random, leading: bool) -> float:
        """This round's extra latency."""
        if not self.active:
            return 0.0
        extra = self.leader_ms if leading else 0.0
        return (self.delay_ms + rng.uniform(0.0, self.jitter_ms) + extra) / 1000.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def parse(cls, body: Any) -> DiskDelay:
        """Settings from a JSON object; ValueError naming the field when one is wrong.
        Missing fields are 0, so ``{}`` turns the delay off."""
        if not isinstance(body, dict):
            raise ValueError('want a JSON object like {"delay_ms": 20, "leader_ms": 150}')
        unknown = sorted(set(body) - set(FIELDS))
        if unknown:
            raise ValueError(f"unknown field {unknown[0]!r} (known: {', '.join(FIELDS)})")
        return cls(**{f: parse_number(body.get(f, 0.0), f, 0.0, MAX_DELAY_MS) for f in FIELDS})
