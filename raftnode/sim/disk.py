"""A simulated node's disk: what survives a crash, written in Ready order."""

from __future__ import annotations

from dataclasses import dataclass, field

from raftnode.core.types import Entry, HardState, PersistentState, Ready, Snapshot


@dataclass
class Disk:
    """What survives a crash, written in Ready order exactly like raftnode/storage.py."""

    hard_state: HardState = field(default_factory=HardState)
    snapshot: Snapshot | None = None
    entries: list[Entry] = field(default_factory=list)

    def _term_at(self, index: int) -> int | None:
        if self.snapshot and index == self.snapshot.index:
            return self.snapshot.term
        for e in self.entries:
            if e.index == index:
                return e.term
        return None

    def save(self, rd: Ready) -> None:
        if rd.snapshot is not None and (
            self.snapshot is None or rd.snapshot.index > self.snapshot.index
        ):
            snap = rd.snapshot
            if self._term_at(snap.index) == snap.term:
                self.entries = [e for e in self.entries if e.index > snap.index]
            else:
                self.entries = []
            self.snapshot = snap
        if rd.hard_state is not None:
            self.hard_state = rd.hard_state
        if rd.entries:
            first = rd.entries[0].index
            floor = self.snapshot.index if self.snapshot else 0
            self.entries = [e for e in self.entries if e.index < first]
            self.entries += [e for e in rd.entries if e.index > floor]
        if rd.compact_to and self.snapshot:
            upto = min(rd.compact_to, self.snapshot.index)
            self.entries = [e for e in self.entries if e.index > upto]

    def load(self) -> PersistentState:
        floor = self.snapshot.index if self.snapshot else 0
        entries: list[Entry] = []
        for e in self.entries:
            if e.index != floor + len(entries) + 1:
                break  # a hole (lost unsynced write): what follows is unusable
            entries.append(e)
        return PersistentState(self.hard_state, self.snapshot, entries)
