"""Planted bugs: each a small deviation real Raft implementations have been known to make.

`--bug NAME` switches one on. With none the node is correct. The code asks about a bug only
through `NodeConfig.has(Bug.X)` (or `BugFlags.has` where there is no NodeConfig, as in the
runtime's choice of storage), so the names live here once and a typo is a NameError at
import instead of a bug that silently never switches on.

Where each one lives: raftnode/core/raft.py (figure8, forget-vote, no-uptodate-check,
bad-truncate, the check-quorum half of stale-read and lease-read), raftnode/core/node.py
(stale-read, follower-read, ack-before-commit, lease-read, dup-apply via the KV), the
runtime/storage and the simulation (no-fsync). docs/raftnode-core.md names the invariant
each one breaks and the simulation test that shows it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum


class Bug(Enum):
    """One planted bug; the value is its command-line name (`--bug stale-read`)."""

    STALE_READ = "stale-read"
    FOLLOWER_READ = "follower-read"
    ACK_BEFORE_COMMIT = "ack-before-commit"
    FIGURE8 = "figure8"
    FORGET_VOTE = "forget-vote"
    NO_UPTODATE_CHECK = "no-uptodate-check"
    BAD_TRUNCATE = "bad-truncate"
    NO_FSYNC = "no-fsync"
    DUP_APPLY = "dup-apply"
    LEASE_READ = "lease-read"

    # Members are singletons compared by identity, so identity hashing is exact, and C-level:
    # Enum's own __hash__ is a Python call, and the core asks has() on its hot paths.
    __hash__ = object.__hash__


_EFFECTS: dict[Bug, str] = {
    Bug.STALE_READ: "leader answers reads from its own state without confirming leadership; a deposed leader serves stale reads",
    Bug.FOLLOWER_READ: "every node answers reads from its own state; a lagging or isolated follower serves stale reads",
    Bug.ACK_BEFORE_COMMIT: "leader acknowledges a write once appended locally, before a majority has it; the write can be lost",
    Bug.FIGURE8: "leader commits an entry of an older term by counting replicas (Raft figure 8); a committed entry can be overwritten",
    Bug.FORGET_VOTE: "votedFor is never persisted; after a restart a node can vote twice in one term, electing two leaders",
    Bug.NO_UPTODATE_CHECK: "votes are granted without comparing logs; a stale node can win and erase committed entries",
    Bug.BAD_TRUNCATE: "any AppendEntries with entries cuts the log after prevLogIndex, so a stale or duplicated one erases acknowledged entries",
    Bug.NO_FSYNC: "log and hard state are not fsynced before replying; a crash loses acknowledged entries and votes",
    Bug.DUP_APPLY: "no client dedup: a retried request is applied again (duplicate append, double increment)",
    Bug.LEASE_READ: "leader serves reads under a time lease measured by its own wall clock; clock skew or a pause makes them stale",
}

# name -> one-line effect: what `--list-bugs` prints and what other tools validate names with.
BUGS: dict[str, str] = {bug.value: _EFFECTS[bug] for bug in Bug}


@dataclass(frozen=True)
class BugFlags:
    """The planted bugs switched on in one node (empty: a correct node)."""

    on: frozenset[Bug] = frozenset()

    @classmethod
    def parse(cls, names: BugFlags | Iterable[str | Bug]) -> BugFlags:
        """Bug names (or members) to flags; ValueError naming the unknown ones and the known."""
        if isinstance(names, BugFlags):
            return names
        on: set[Bug] = set()
        unknown: list[str] = []
        for name in names:
            if isinstance(name, Bug):
                on.add(name)
            elif name in BUGS:
                on.add(Bug(name))
            else:
                unknown.append(repr(name))
        if unknown:
            raise ValueError(
                f"unknown bug {', '.join(sorted(unknown))} (known: {', '.join(sorted(BUGS))})"
            )
        return cls(frozenset(on))

    def has(self, bug: Bug) -> bool:
        return bug in self.on

    def names(self) -> list[str]:
        """Sorted command-line names, for /status and logs."""
        return sorted(bug.value for bug in self.on)

    def __bool__(self) -> bool:
        return bool(self.on)
