"""Planted bugs: each a small deviation real Raft implementations have been known to make.

`--bug NAME` switches one on (NodeConfig.bugs). With none the node is correct. Where each
one lives: raftnode/core/raft.py (figure8, forget-vote, no-uptodate-check, bad-truncate),
raftnode/core/node.py (stale-read, follower-read, ack-before-commit, lease-read, dup-apply
via the KV), the runtime/storage and the simulation (no-fsync). docs/raftnode-core.md
names the invariant each one breaks and the simulation test that shows it.
"""

from __future__ import annotations

BUGS: dict[str, str] = {
    "stale-read": "leader answers reads from its own state without confirming leadership; a deposed leader serves stale reads",
    "follower-read": "every node answers reads from its own state; a lagging or isolated follower serves stale reads",
    "ack-before-commit": "leader acknowledges a write once appended locally, before a majority has it; the write can be lost",
    "figure8": "leader commits an entry of an older term by counting replicas (Raft figure 8); a committed entry can be overwritten",
    "forget-vote": "votedFor is never persisted; after a restart a node can vote twice in one term, electing two leaders",
    "no-uptodate-check": "votes are granted without comparing logs; a stale node can win and erase committed entries",
    "bad-truncate": "any AppendEntries with entries cuts the log after prevLogIndex, so a stale or duplicated one erases acknowledged entries",
    "no-fsync": "log and hard state are not fsynced before replying; a crash loses acknowledged entries and votes",
    "dup-apply": "no client dedup: a retried request is applied again (duplicate append, double increment)",
    "lease-read": "leader serves reads under a time lease measured by its own wall clock; clock skew or a pause makes them stale",
}


def check_bugs(names: frozenset[str] | set[str] | list[str]) -> frozenset[str]:
    """Validate bug names; raises ValueError naming the unknown ones and the valid set."""
    unknown = sorted(set(names) - set(BUGS))
    if unknown:
        raise ValueError(f"unknown bug(s) {', '.join(unknown)}; known: {', '.join(sorted(BUGS))}")
    return frozenset(names)
