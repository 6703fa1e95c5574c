"""Safety properties the simulation checks after every Ready and every tick.

Election safety (one leader per term, ever); log matching (an `(index, term)` always holds
one command and one predecessor term); commit safety (an index is only ever committed with
one entry); leader completeness (a new leader holds every committed entry); state machine
safety (one command applied per index); acknowledged writes never lost (an acknowledged
index never applies another command, and after `settle()` every acknowledged index is
applied). A violation raises `InvariantViolation(name, detail)`. The client-visible checks
(stale reads, duplicate effects) need the client history and live in `SimCluster`.
"""

from __future__ import annotations

from typing import Any

from raftnode.core.digest import command_digest
from raftnode.core.node import NodeLogic
from raftnode.core.raft import LEADER
from raftnode.core.types import Entry


class InvariantViolation(AssertionError):
    """A Raft or client-visible safety property broke; `name` says which."""

    def __init__(self, name: str, detail: str) -> None:
        super().__init__(f"{name}: {detail}")
        self.name = name
        self.detail = detail


class Invariants:
    """Safety bookkeeping across the whole run (survives crashes: it is the observer)."""

    def __init__(self) -> None:
        self.leaders: dict[int, str] = {}
        self.entry_ids: dict[tuple[int, int], tuple[str, int | None]] = {}
        self.committed: dict[int, tuple[int, str]] = {}  # index -> (entry term, digest)
        self.commit_term: dict[int, int] = {}  # index -> lowest term it was seen committed in
        self.applied: dict[int, str] = {}
        self.applied_by_digest: dict[str, int] = {}
        self.acked: dict[int, tuple[str, str]] = {}  # index -> (digest, handle)
        self.seen_commit: dict[str, int] = {}

    def on_entries(self, node: NodeLogic, entries: list[Entry]) -> None:
        """Log matching: an (index, term) always names the same command and predecessor."""
        log = node.raft.log
        for e in entries:
            prev = log.term_at(e.index - 1) if e.index > 1 else 0
            ident = (command_digest(e.command), prev)
            seen = self.entry_ids.setdefault((e.index, e.term), ident)
            if seen[0] != ident[0] or (
                seen[1] is not None and prev is not None and seen[1] != prev
            ):
                raise InvariantViolation(
                    "log-matching",
                    f"{node.id} holds entry {e.index}@{e.term} = {ident}, elsewhere {seen}",
                )

    def on_events(self, node_id: str, events: list[dict[str, Any]]) -> None:
        for ev in events:
            if ev["ev"] == "apply":
                idx, dig = ev["index"], ev["digest"]
                have = self.applied.setdefault(idx, dig)
                if have != dig:
                    raise InvariantViolation(
                        "state-machine-safety",
                        f"{node_id} applied {dig} at index {idx}, another node applied {have}",
                    )
                self.applied_by_digest.setdefault(dig, idx)
                self._check_ack(idx)

    def on_state(self, node: NodeLogic) -> None:
        raft = node.raft
        if raft.role == LEADER:
            holder = self.leaders.setdefault(raft.term, node.id)
            if holder != node.id:
                raise InvariantViolation(
                    "election-safety", f"{holder} and {node.id} both leaders in term {raft.term}"
                )
            if self.seen_commit.get(f"leader:{node.id}") != raft.term:
                self.seen_commit[f"leader:{node.id}"] = raft.term
                self._check_completeness(node)
        start = self.seen_commit.get(node.id, raft.log.offset)
        for i in range(max(start, raft.log.offset) + 1, raft.commit + 1):
            e = raft.log.entry(i)
            if e is None:
                break
            ident = (e.term, command_digest(e.command))
            have = self.committed.setdefault(i, ident)
            if have != ident:
                raise InvariantViolation(
                    "commit-safety",
                    f"{node.id} committed {ident} at index {i}, earlier commit was {have}",
                )
            self.commit_term[i] = min(self.commit_term.get(i, raft.term), raft.term)
        self.seen_commit[node.id] = raft.commit

    def _check_completeness(self, node: NodeLogic) -> None:
        """Entries committed in an earlier term are in the new leader's log. (A leader of
        an older term can still be elected late, by delayed vote replies; it owes
        nothing to commits of later terms, and can commit nothing itself.)"""
        log = node.raft.log
        for i, (term, _dig) in self.committed.items():
            if i <= log.offset or self.commit_term[i] >= node.raft.term:
                continue
            if log.term_at(i) != term:
                raise InvariantViolation(
                    "leader-completeness",
                    f"{node.id} leads term {node.raft.term} without committed entry {i}@{term}",
                )

    def on_ack(self, index: int, digest: str, handle: str) -> None:
        self.acked[index] = (digest, handle)
        self._check_ack(index)

    def _check_ack(self, index: int) -> None:
        if index in self.acked and index in self.applied:
            want, handle = self.acked[index]
            if self.applied[index] != want:
                raise InvariantViolation(
                    "acknowledged-write-lost",
                    f"{handle} was acknowledged at index {index} but {self.applied[index]} was applied there",
                )

    def final_durability(self) -> None:
        for index, (_dig, handle) in sorted(self.acked.items()):
            if index not in self.applied:
                raise InvariantViolation(
                    "acknowledged-write-lost",
                    f"{handle} acknowledged at index {index}, never applied after recovery",
                )
