"""The in-memory Raft log: entries after a snapshot point.

Indexes are 1-based like the paper; `offset` is the index covered by the latest snapshot
(0 when there is none) and `offset_term` its term, so `term_at(offset)` still answers the
prevLogTerm question for the first entry after a compaction."""

from __future__ import annotations

from collections.abc import Iterable

from raftnode.core.types import Entry


class RaftLog:
    """A list of entries starting at `offset + 1`."""

    def __init__(self, offset: int = 0, offset_term: int = 0, entries: Iterable[Entry] = ()):
        self.offset = offset
        self.offset_term = offset_term
        self.entries: list[Entry] = [e for e in entries if e.index > offset]
        for pos, e in enumerate(self.entries):
            if e.index != offset + 1 + pos:
                raise ValueError(f"log gap: entry {e.index} at position {offset + 1 + pos}")

    def last_index(self) -> int:
        return self.offset + len(self.entries)

    def last_term(self) -> int:
        return self.entries[-1].term if self.entries else self.offset_term

    def term_at(self, index: int) -> int | None:
        """Term of the entry at `index`; None when compacted away or beyond the end."""
        if index == self.offset:
            return self.offset_term
        if index < self.offset or index > self.last_index():
            return None
        return self.entries[index - self.offset - 1].term

    def entry(self, index: int) -> Entry | None:
        if index <= self.offset or index > self.last_index():
            return None
        return self.entries[index - self.offset - 1]

    def slice(self, lo: int, hi: int) -> list[Entry]:
        """Entries with lo <= index < hi (clipped to what is held)."""
        lo = max(lo, self.offset + 1)
        hi = min(hi, self.last_index() + 1)
        if lo >= hi:
            return []
        return self.entries[lo - self.offset - 1 : hi - self.offset - 1]

    def truncate_from(self, index: int) -> None:
        """Drop every entry with index >= `index`."""
        if index <= self.offset:
            self.entries = []
        else:
            del self.entries[index - self.offset - 1 :]

    def append(self, entries: Iterable[Entry]) -> None:
        for e in entries:
            if e.index != self.last_index() + 1:
                raise ValueError(f"append of {e.index} after {self.last_index()}")
            self.entries.append(e)

    def compact(self, index: int, term: int) -> None:
        """Forget entries up to `index` (covered by a snapshot)."""
        if index <= self.offset:
            return
        keep = self.entries[index - self.offset :] if index <= self.last_index() else []
        self.offset, self.offset_term, self.entries = index, term, keep

    def reset(self, index: int, term: int) -> None:
        """Replace the whole log by a snapshot point (InstallSnapshot of a divergent log)."""
        self.offset, self.offset_term, self.entries = index, term, []

    def first_index_of_term(self, index: int) -> int:
        """Walking back from `index`, the first index still holding the same term (fast
        backup hint: the leader can skip the follower's whole conflicting term)."""
        term = self.term_at(index)
        i = index
        while i - 1 > self.offset and self.term_at(i - 1) == term:
            i -= 1
        return i

    def last_index_of_term(self, term: int, upto: int) -> int | None:
        """Highest index <= upto holding `term`, or None; terms only grow along a log, so
        the walk stops as soon as it sees a lower term."""
        i = min(upto, self.last_index())
        while i > self.offset:
            t = self.term_at(i)
            if t == term:
                return i
            if t is not None and t < term:
                return None
            i -= 1
        if i == self.offset and self.offset_term == term:
            return i
        return None
