"""The Raft safety properties (Raft paper, figure 3), checked from node evidence.

Input is what nodes wrote to `events.jsonl` (docs/interfaces.md §3) plus optional final
log dumps. Each node's log is rebuilt from its append / truncate / snapshot events,
across restarts ("start" events), so that the properties can be judged at the moments
they are about (e.g. a leader's log at the moment it was elected):

- election safety: at most one leader per term (and no node votes twice in a term);
- log matching: an (index, term) names one entry (one digest) with one prefix;
- leader append-only: a leader never truncates or overwrites its log in its own term;
- leader completeness: an entry committed by term t is in the log of every leader of a
  later term, at the moment it became leader;
- state machine safety: one entry per applied index across nodes; committed entries
  never differ and are never removed from a node's log (also checked on final dumps).

Four narrower rules judge single events directly, so a planted bug shows up without
having to produce its end effect (two leaders, a lost write). They need the richer events
raftnode writes since the `safety` change (vote logs, commit entry terms, truncation
ranges, recovered votes); on older event files they are listed as not checked:

- vote durability: a node never grants votes to two candidates in one term, and a
  restart recovers the vote it gave and the highest term its events showed (events are
  written only once their batch is durable) (forget-vote, no-fsync);
- up-to-date vote: a vote is granted only to a candidate whose log is at least as up to
  date as the voter's (§5.4.1; no-uptodate-check);
- current-term commit: a leader advances its commit index only onto an entry of its own
  term (§5.4.2, figure 8; figure8);
- committed entry removed: no node truncates or overwrites an entry at or below its own
  commit index, nor an entry (index and term) known committed in an earlier or the same
  term anywhere in the cluster (bad-truncate).

Missing evidence (a gap in a rebuilt log, a compacted prefix) is never a violation:
the checker only reports what the lines it cites prove. A property with no evidence at
all is reported as *not checked*, with the reason, never as holding: a DB that only
reports roles and commit indexes (etcd, through harness/status_poller.py) gets election
safety checked and the others listed as not checkable. Such a DB's own reasons come
from `evidence.json` next to the node directories ({"not_checkable": {property: why}}).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checkers.events import Event, Evidence, NodeDump, load_evidence
from checkers.result import UNKNOWN, Result

PROPERTIES = (
    "election-safety",
    "log-matching",
    "leader-append-only",
    "leader-completeness",
    "state-machine-safety",
)
# Rules judged on single events (module docstring); reported like properties.
RULES = (
    "vote-durability",
    "up-to-date-vote",
    "current-term-commit",
    "committed-entry-removed",
)
RULE_NO_EVIDENCE = {
    "vote-durability": "no vote events",
    "up-to-date-vote": "no vote events with both logs' last index and term (older raftnode?)",
    "current-term-commit": "no leader commit events with entry terms (older raftnode?)",
    "committed-entry-removed": "no truncate events with the removed range (none, or older raftnode)",
}
EVIDENCE_FILE = "evidence.json"
# Why a property cannot be judged when the evidence lacks what it is about.
NO_EVIDENCE = {
    "election-safety": "no role or vote events",
    "log-matching": "no log entries with terms and digests (append/apply events or dumps)",
    "leader-append-only": "no append or truncate events",
    "leader-completeness": "no committed entries known together with a leader's log",
    "state-machine-safety": "no applied or committed entries known (apply events or dumps)",
}


@dataclass(frozen=True)
class LogEntry:
    """What the evidence says about one log slot; `where` cites the line that put it."""

    term: int
    digest: str | None
    where: str

    def same(self, other: LogEntry) -> bool:
        if self.term != other.term:
            return False
        return self.digest is None or other.digest is None or self.digest == other.digest


class NodeLog:
    """One node's log rebuilt from events. Slots are None where the evidence is silent
    (e.g. after a restart reported a longer log than the events showed)."""

    def __init__(self) -> None:
        self.base = 0  # snapshot index: slots <= base are compacted
        self.base_term = 0
        self.slots: list[LogEntry | None] = []  # slots[k] is index base + 1 + k

    @property
    def last_index(self) -> int:
        return self.base + len(self.slots)

    def copy(self) -> NodeLog:
        other = NodeLog()
        other.base, other.base_term, other.slots = self.base, self.base_term, list(self.slots)
        return other

    def entry(self, index: int) -> LogEntry | None:
        k = index - self.base - 1
        return self.slots[k] if 0 <= k < len(self.slots) else None

    def term_at(self, index: int) -> int | None:
        """The term of the entry at `index` if known (index 0 has term 0)."""
        if index == 0:
            return 0
        if index == self.base:
            return self.base_term
        found = self.entry(index)
        return found.term if found else None

    def put(self, index: int, new: LogEntry) -> LogEntry | None:
        """Store an appended entry; returns the known, different entry it displaced
        (Raft then drops everything after it too)."""
        if index <= self.base:
            return None
        k = index - self.base - 1
        if k >= len(self.slots):
            self.slots.extend([None] * (k - len(self.slots)))
            self.slots.append(new)
            return None
        old = self.slots[k]
        self.slots[k] = new
        if old is not None and not old.same(new):
            del self.slots[k + 1 :]
            return old
        return None

    def truncate(self, from_index: int) -> list[tuple[int, LogEntry | None]]:
        """Remove slots >= from_index; returns the removed (index, entry) pairs."""
        k = max(from_index - self.base - 1, 0)
        removed = [(self.base + 1 + j, e) for j, e in enumerate(self.slots[k:], start=k)]
        del self.slots[k:]
        return removed

    def snapshot(self, index: int, term: int) -> None:
        """A local compaction keeps the suffix; an installed snapshot that does not match
        the log replaces it entirely (Raft §7)."""
        if index <= self.base:
            return
        if index <= self.last_index and self.term_at(index) == term:
            self.slots = self.slots[index - self.base :]
        else:
            self.slots = []
        self.base, self.base_term = index, term

    def restart(self, last_index: int) -> list[tuple[int, LogEntry | None]]:
        """Align with the log length a restarted node reports; returns slots it lost."""
        if last_index < self.last_index:
            return self.truncate(last_index + 1)
        self.slots.extend([None] * (last_index - self.last_index))
        return []


@dataclass
class Election:
    node: str
    term: int
    where: str
    log: NodeLog


@dataclass
class Committed:
    """An entry known to be committed, and the earliest term it was known committed in."""

    index: int
    term: int
    digest: str | None
    known_by_term: int
    node: str
    where: str


class _Unique:
    """Per key, the distinct values seen and where each was first seen. Stores one
    value per key until a second one shows up, so a long clean log stays small."""

    def __init__(self) -> None:
        self.first: dict[Any, tuple[Any, str, str]] = {}
        self.more: dict[Any, dict[Any, tuple[str, str]]] = {}

    def see(self, key: Any, value: Any, node: str, where: str) -> None:
        found = self.first.get(key)
        if found is None:
            self.first[key] = (value, node, where)
        elif found[0] != value:
            self.more.setdefault(key, {found[0]: (found[1], found[2])}).setdefault(
                value, (node, where)
            )

    def conflicts(self) -> list[tuple[Any, dict[Any, tuple[str, str]]]]:
        return sorted(self.more.items())

    def __len__(self) -> int:
        return len(self.first)

    def __contains__(self, key: Any) -> bool:
        return key in self.more


@dataclass
class _Observations:
    """Cluster-wide facts gathered while replaying every node's events."""

    leaders: dict[int, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))
    votes: dict[tuple[str, int], tuple[str, str]] = field(default_factory=dict)
    digests: _Unique = field(default_factory=_Unique)  # (index, term) -> digest
    prev_terms: _Unique = field(default_factory=_Unique)  # (index, term) -> term at index-1
    applied: _Unique = field(default_factory=_Unique)  # index -> (term, digest)
    # index -> (term, digest) -> the record known committed in the lowest term
    committed: dict[int, dict[tuple[int, str | None], Committed]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    elections: list[Election] = field(default_factory=list)
    # (node, index, term, event term, where, commit index then) for each removed entry
    removals: list[tuple[str, int, int, int, str, int]] = field(default_factory=list)

    def add_committed(self, rec: Committed) -> None:
        known = self.committed[rec.index]
        key = (rec.term, rec.digest)
        if key not in known or rec.known_by_term < known[key].known_by_term:
            known[key] = rec


class RaftSafetyChecker:
    """Replays node evidence once and reports every violation with its citations."""

    def __init__(
        self,
        evidence: Evidence,
        limits: dict[str, str] | None = None,
        notes: dict[str, str] | None = None,
    ) -> None:
        self.evidence = evidence
        self.limits = dict(limits or {})
        self.notes = dict(notes or {})
        self.kinds: Counter[str] = Counter()
        self.obs = _Observations()
        self.result = Result(name="raft-safety", valid=True, warnings=evidence.warnings)
        self.counts = dict.fromkeys(PROPERTIES + RULES, 0)
        self.rule_evidence: Counter[str] = Counter()
        self.events_read = 0
        self.last_vote: dict[str, tuple[int, str, str]] = {}  # node -> its newest vote
        self.starts: dict[str, list[tuple[int, str]]] = {}  # node -> (event number, where)
        self.vote_seq: dict[tuple[str, int], int] = {}  # (node, term) -> first vote's number
        self.max_term: dict[str, tuple[int, str]] = {}  # node -> highest term since its start

    # -- reporting ---------------------------------------------------------------------
    def violation(self, prop: str, message: str, **data: Any) -> None:
        self.counts[prop] += 1
        self.result.add_violation(message, property=prop, **data)

    # -- replay ------------------------------------------------------------------------
    def run(self) -> Result:
        for node in sorted(self.evidence.files):
            before = self.events_read
            self._replay(node, self.evidence.iter_node_events(node))
            if self.events_read == before:
                files = ", ".join(str(p) for p in self.evidence.files[node])
                self.result.warnings.append(
                    f"{node}: no readable event in {files}; this node is not checked"
                )
        for node, dump in sorted(self.evidence.dumps.items()):
            self._observe_dump(node, dump)
        self._check_election_safety()
        self._check_log_matching()
        self._check_leader_completeness()
        self._check_applied()
        self._check_committed_agree()
        self._check_removed_cluster_committed()
        return self._finish()

    def _observe_entry(
        self, node: str, index: int, term: int, digest: str | None, prev: int | None, where: str
    ) -> None:
        if digest is not None:
            self.obs.digests.see((index, term), digest, node, where)
        if prev is not None:
            self.obs.prev_terms.see((index, term), prev, node, where)

    def _commit(self, node: str, entry: LogEntry | None, index: int, event: Event) -> None:
        if entry is None:
            return
        self.obs.add_committed(
            Committed(index, entry.term, entry.digest, event.term, node, event.where)
        )

    def _replay(self, node: str, events: Iterable[Event]) -> None:
        log = NodeLog()
        commit = 0
        leader_term: int | None = None
        for event, following in _with_next(events):
            self.events_read += 1
            ev = event.ev
            self.kinds[ev] += 1
            if ev != "start" and event.term > self.max_term.get(node, (0, ""))[0]:
                self.max_term[node] = (event.term, event.where)
            if ev == "start":
                leader_term = None
                self._start_recovers_vote(node, event)
                lost = log.restart(event.get("last_index", log.last_index))
                self._lost_on_restart(node, lost, commit, event)
                commit = max(event.get("commit", 0), log.base)
            elif ev == "role":
                leader_term = event.term if event.get("role") == "leader" else None
                if leader_term is not None:
                    self.obs.leaders[event.term].setdefault(node, event.where)
                    self.obs.elections.append(Election(node, event.term, event.where, log.copy()))
            elif ev == "vote":
                self._vote(node, event)
            elif ev == "append":
                index, term = event.get("index"), event.get("entry_term")
                new = LogEntry(term, event.get("digest"), event.where)
                self._observe_entry(
                    node, index, term, new.digest, log.term_at(index - 1), event.where
                )
                displaced = log.put(index, new)
                if displaced is not None:
                    self._removed(node, [(index, displaced)], commit, leader_term, event)
            elif ev == "truncate":
                removed = log.truncate(event.get("from_index"))
                covered = _installed_snapshot(following)
                self._removed(node, removed, commit, leader_term, event, covered=covered)
            elif ev == "commit":
                index = event.get("index")
                self._current_term_commit(node, event, leader_term, log)
                for i in range(max(commit, log.base) + 1, index + 1):
                    self._commit(node, log.entry(i), i, event)
                commit = max(commit, index)
            elif ev == "apply":
                self._apply(node, event)
            elif ev == "snapshot":
                index = event.get("index")
                log.snapshot(index, event.get("entry_term", 0))
                commit = max(commit, index)
            if leader_term is not None and event.term != leader_term:
                leader_term = None  # a higher term always means the node stepped down

    def _vote(self, node: str, event: Event) -> None:
        """vote-durability (two candidates in one term) and up-to-date-vote (§5.4.1)."""
        candidate = str(event.get("for"))
        self.rule_evidence["vote-durability"] += 1
        self.last_vote[node] = (event.term, candidate, event.where)
        earlier = self.obs.votes.setdefault((node, event.term), (candidate, event.where))
        first_seq = self.vote_seq.setdefault((node, event.term), self.events_read)
        if earlier[0] != candidate:
            restarts = [w for seq, w in self.starts.get(node, []) if seq > first_seq]
            across = f" across a restart ({restarts[-1]})" if restarts else ""
            self.violation(
                "vote-durability",
                f"{node} voted twice in term {event.term}: for {earlier[0]} ({earlier[1]}) "
                f"and for {candidate} ({event.where}){across}",
                nodes=[node],
                term=event.term,
                events=[earlier[1], *restarts[-1:], event.where],
            )
        fields = ("cand_last_index", "cand_last_term", "last_log_index", "last_log_term")
        values = [event.get(f) for f in fields]
        if candidate == node or not all(type(v) is int for v in values):
            return
        self.rule_evidence["up-to-date-vote"] += 1
        c_index, c_term, own_index, own_term = values
        if (c_term, c_index) < (own_term, own_index):
            self.violation(
                "up-to-date-vote",
                f"{node} voted for {candidate} in term {event.term} although the candidate's "
                f"log (last index {c_index}, term {c_term}) is less up to date than its own "
                f"(last index {own_index}, term {own_term}) ({event.where})",
                nodes=[node, candidate],
                term=event.term,
                indexes=[own_index],
                events=[event.where],
            )

    def _start_recovers_vote(self, node: str, event: Event) -> None:
        """vote-durability across a restart: the recovered (term, votedFor) must not be
        older than the last vote this node's events reported (events are written only
        once the batch is durable). A start on an empty disk (term 0, empty log) is a wiped
        node, not a forgotten vote: warned about only."""
        self.starts.setdefault(node, []).append((self.events_read, event.where))
        last = self.last_vote.pop(node, None)
        reached, reached_where = self.max_term.pop(node, (0, ""))
        if "voted_for" not in event.data:
            return  # older start events need not carry the recovered term and vote
        if event.term == 0 and not event.get("last_index") and not event.get("commit"):
            if reached:
                self.result.warnings.append(
                    f"{event.where}: {node} restarted with an empty disk after reaching term "
                    f"{reached}"
                )
            return
        if event.term < reached:
            # Every event is written after its batch (and so the term) is durable.
            self.rule_evidence["vote-durability"] += 1
            self.violation(
                "vote-durability",
                f"{node} restarted in term {event.term} ({event.where}) below term {reached} "
                f"its events had reached ({reached_where}): currentTerm was not durable",
                nodes=[node],
                term=reached,
                events=[reached_where, event.where],
            )
            return
        if last is None:
            return
        term, candidate, where = last
        recovered = event.get("voted_for")
        if event.term < term or (event.term == term and recovered != candidate):
            self.violation(
                "vote-durability",
                f"{node} voted for {candidate} in term {term} ({where}) but restarted with "
                f"term {event.term}, votedFor {recovered} ({event.where}): the vote was not durable",
                nodes=[node],
                term=term,
                events=[where, event.where],
            )

    def _current_term_commit(
        self, node: str, event: Event, leader_term: int | None, log: NodeLog
    ) -> None:
        """current-term-commit (§5.4.2): a leader's commit index moves only onto an entry
        of its own term; counting replicas of an older entry is figure 8's mistake."""
        term = event.get("leader_term")
        if type(term) is not int:
            return
        index = event.get("index")
        entry_term = event.get("entry_term")
        if type(entry_term) is not int:
            entry_term = log.term_at(index)
        if entry_term is None:
            return
        self.rule_evidence["current-term-commit"] += 1
        if entry_term < term:
            self.violation(
                "current-term-commit",
                f"leader {node} of term {term} advanced its commit index to {index}, an entry "
                f"of term {entry_term}, without an entry of its own term at or beyond it "
                f"({event.where})",
                nodes=[node],
                term=term,
                indexes=[index],
                events=[event.where],
            )

    def _apply(self, node: str, event: Event) -> None:
        index = event.get("index")
        term = event.get("entry_term", 0)
        digest = event.get("digest")
        self.obs.applied.see(index, (term, digest), node, event.where)
        self._observe_entry(node, index, term, digest, None, event.where)
        self._commit(node, LogEntry(term, digest, event.where), index, event)

    def _removed(
        self,
        node: str,
        removed: list[tuple[int, LogEntry | None]],
        commit: int,
        leader_term: int | None,
        event: Event,
        *,
        covered: int = 0,
    ) -> None:
        """Judge entries leaving a node's log: never while it leads, never committed ones
        (unless a snapshot installed right after covers them)."""
        if not removed:
            return
        first = removed[0][0]
        cited = [event.where] + [e.where for _, e in removed[:3] if e is not None]
        if leader_term is not None:
            self.violation(
                "leader-append-only",
                f"leader {node} removed entries from index {first} of its own log in its "
                f"term {leader_term} ({event.where})",
                nodes=[node],
                term=leader_term,
                indexes=[i for i, _ in removed[:10]],
                events=cited,
            )
        if event.ev == "truncate" and isinstance(event.get("removed"), list):
            self._removed_range(node, event, commit, covered)
            return
        committed = [i for i, _ in removed if covered < i <= commit]
        if committed:
            self.violation(
                "state-machine-safety",
                f"{node} {'restarted without' if event.ev == 'start' else 'removed'} "
                f"committed entries {committed[0]}..{committed[-1]} "
                f"(its commit index was {commit}) ({event.where})",
                nodes=[node],
                term=event.term,
                indexes=committed[:10],
                events=cited,
            )

    def _removed_range(self, node: str, event: Event, commit: int, covered: int) -> None:
        """committed-entry-removed, from a truncate event's own range and commit index
        (the larger of it and the replayed one): judged by index, and by index and term
        against the cluster at the end (_check_removed_cluster_committed)."""
        self.rule_evidence["committed-entry-removed"] += 1
        own = event.get("commit")
        commit = max(commit, own) if type(own) is int else commit
        pairs = [
            (p[0], p[1])
            for p in event.get("removed")
            if isinstance(p, list) and len(p) == 2 and all(type(x) is int for x in p)
        ]
        for index, term in pairs:
            if index > covered:
                self.obs.removals.append((node, index, term, event.term, event.where, commit))
        first = event.get("from_index")
        count = event.get("removed_count", len(pairs))
        last = first + count - 1 if type(count) is int and type(first) is int else None
        lost = [i for i in range(max(first, covered + 1), min(commit, last or commit) + 1)]
        if lost:
            terms = {i: t for i, t in pairs}
            self.violation(
                "committed-entry-removed",
                f"{node} truncated its log from index {first} in term {event.term}, removing "
                f"committed entries {lost[0]}..{lost[-1]} (first: term "
                f"{terms.get(lost[0], '?')}; its commit index was {commit}) ({event.where})",
                nodes=[node],
                term=event.term,
                indexes=lost[:10],
                events=[event.where],
            )

    def _check_removed_cluster_committed(self) -> None:
        """A removed (index, term) that some node knew committed by the removal's term
        (or earlier) was committed before it was removed: a later leader holds every such
        entry, so no correct leader's AppendEntries can conflict with it."""
        for node, index, term, ev_term, where, commit in self.obs.removals:
            if index <= commit:
                continue  # already reported from the node's own commit index
            rec = self.obs.committed.get(index, {})
            known = [r for (t, _), r in rec.items() if t == term and r.known_by_term <= ev_term]
            if known:
                first = min(known, key=lambda r: r.known_by_term)
                self.violation(
                    "committed-entry-removed",
                    f"{node} removed index {index} term {term} in term {ev_term} ({where}), "
                    f"an entry {first.node} knew committed in term {first.known_by_term} "
                    f"({first.where})",
                    nodes=sorted({node, first.node}),
                    term=ev_term,
                    indexes=[index],
                    events=[first.where, where],
                )

    def _lost_on_restart(
        self, node: str, lost: list[tuple[int, LogEntry | None]], commit: int, event: Event
    ) -> None:
        if not lost:
            return
        self._removed(node, [(i, e) for i, e in lost if i <= commit], commit, None, event)
        uncommitted = [i for i, _ in lost if i > commit]
        if uncommitted:
            self.result.warnings.append(
                f"{event.where}: {node} restarted without entries "
                f"{uncommitted[0]}..{uncommitted[-1]} (uncommitted) that its events reported appended"
            )

    def _observe_dump(self, node: str, dump: NodeDump) -> None:
        prev_index, prev_term = dump.snapshot_index, dump.snapshot_term
        for entry in dump.entries:
            prev = prev_term if entry.index == prev_index + 1 else None
            where = f"{dump.source}#index={entry.index}"
            self._observe_entry(node, entry.index, entry.term, entry.digest, prev, where)
            if entry.index <= dump.commit:
                self.obs.add_committed(
                    Committed(entry.index, entry.term, entry.digest, dump.term, node, where)
                )
            prev_index, prev_term = entry.index, entry.term

    # -- properties --------------------------------------------------------------------
    def _check_election_safety(self) -> None:
        for term, nodes in sorted(self.obs.leaders.items()):
            if len(nodes) > 1:
                names = sorted(nodes)
                self.violation(
                    "election-safety",
                    f"{len(names)} leaders in term {term}: "
                    + ", ".join(f"{n} ({nodes[n]})" for n in names),
                    nodes=names,
                    term=term,
                    events=[nodes[n] for n in names],
                )

    def _check_log_matching(self) -> None:
        for (index, term), digests in self.obs.digests.conflicts():
            if len(digests) > 1:
                self.violation(
                    "log-matching",
                    f"index {index} term {term} holds different entries: "
                    + ", ".join(f"{d} on {n} ({w})" for d, (n, w) in digests.items()),
                    nodes=sorted({n for n, _ in digests.values()}),
                    term=term,
                    indexes=[index],
                    events=[w for _, w in digests.values()],
                )
        for (index, term), prevs in self.obs.prev_terms.conflicts():
            if len(prevs) > 1:
                self.violation(
                    "log-matching",
                    f"entry at index {index} term {term} follows different prefixes: "
                    + ", ".join(
                        f"term {p} at {index - 1} on {n} ({w})" for p, (n, w) in prevs.items()
                    ),
                    nodes=sorted({n for n, _ in prevs.values()}),
                    term=term,
                    indexes=[index - 1, index],
                    events=[w for _, w in prevs.values()],
                )

    def _earliest_commits(self) -> list[Committed]:
        """Per index and entry, the record that shows it committed in the lowest term."""
        out = []
        for records in self.obs.committed.values():
            out.extend(records.values())
        out.sort(key=lambda c: (c.known_by_term, c.index))
        return out

    def _check_leader_completeness(self) -> None:
        commits = self._earliest_commits()
        for election in sorted(self.obs.elections, key=lambda e: (e.term, e.node)):
            missing: list[Committed] = []
            for rec in commits:
                if rec.known_by_term >= election.term:
                    break
                if not _log_has(election.log, rec):
                    missing.append(rec)
            if missing:
                first = missing[0]
                self.violation(
                    "leader-completeness",
                    f"{election.node} became leader of term {election.term} ({election.where}) "
                    f"without {len(missing)} committed entr{'y' if len(missing) == 1 else 'ies'}, "
                    f"e.g. index {first.index} term {first.term} committed by term "
                    f"{first.known_by_term} ({first.node}, {first.where})",
                    nodes=sorted({election.node, first.node}),
                    term=election.term,
                    indexes=[m.index for m in missing[:10]],
                    events=[election.where, first.where],
                )

    def _check_applied(self) -> None:
        for index, entries in self.obs.applied.conflicts():
            if len(entries) > 1:
                self.violation(
                    "state-machine-safety",
                    f"index {index} applied as different entries: "
                    + ", ".join(
                        f"term {t} digest {d} on {n} ({w})" for (t, d), (n, w) in entries.items()
                    ),
                    nodes=sorted({n for n, _ in entries.values()}),
                    indexes=[index],
                    events=[w for _, w in entries.values()],
                )

    def _check_committed_agree(self) -> None:
        applied = self.obs.applied
        for index, records in sorted(self.obs.committed.items()):
            if index in applied:
                continue  # already reported as applied differently
            distinct: dict[tuple[int, str | None], Committed] = {}
            for rec in records.values():
                if not any(_same(rec, other) for other in distinct.values()):
                    distinct[(rec.term, rec.digest)] = rec
            if len(distinct) > 1:
                recs = list(distinct.values())
                self.violation(
                    "state-machine-safety",
                    f"index {index} committed as different entries: "
                    + ", ".join(
                        f"term {r.term} digest {r.digest} on {r.node} ({r.where})" for r in recs
                    ),
                    nodes=sorted({r.node for r in recs}),
                    indexes=[index],
                    events=[r.where for r in recs],
                )

    def _finish(self) -> Result:
        result = self.result
        nodes = self.evidence.nodes
        result.details = {
            "nodes": nodes,
            "events": self.events_read,
            "dumps": sorted(self.evidence.dumps),
            "terms_with_leader": len(self.obs.leaders),
            "committed_indexes": len(self.obs.committed),
            "applied_indexes": len(self.obs.applied),
            "properties": self._properties(),
            "rules": self._rules(),
        }
        unchecked = {
            p: e["reason"] for p, e in result.details["properties"].items() if not e["checked"]
        }
        result.details["not_checked"] = unchecked
        rules = result.details["rules"]
        rules_checked = [r for r in RULES if rules[r]["checked"]]
        if result.valid is True and self.events_read == 0 and not self.evidence.dumps:
            # Files were there but not one line of them could be read: holding "all five
            # properties" over nothing would be a verdict without evidence.
            result.valid = UNKNOWN
            result.summary = (
                f"no usable node evidence: {sum(map(len, self.evidence.files.values()))} "
                "event file(s) without one readable event and no readable dump (see warnings)"
            )
        elif result.valid is True and not unchecked:
            result.summary = (
                f"{len(nodes)} nodes, {result.details['events']} events, "
                f"{len(self.obs.leaders)} terms with a leader: all five Raft safety properties hold"
                + _rules_note(rules_checked)
            )
        elif result.valid is True:
            held = [p for p in PROPERTIES if p not in unchecked]
            result.summary = (
                f"{len(nodes)} nodes, {result.details['events']} events, "
                f"{len(self.obs.leaders)} terms with a leader: "
                + (
                    f"{', '.join(held)} hold{'s' if len(held) == 1 else ''}"
                    if held
                    else "nothing checked"
                )
                + "; not checked: "
                + "; ".join(f"{p} ({why})" for p, why in unchecked.items())
                + _rules_note(rules_checked)
            )
        else:
            broken = [p for p in PROPERTIES + RULES if self.counts[p]]
            result.summary = f"{result.violation_count} violation(s): " + ", ".join(
                f"{p} ({self.counts[p]})" for p in broken
            )
        return result

    def _evidence_for(self) -> dict[str, bool]:
        """Whether the evidence holds anything each property is about."""
        obs, kinds = self.obs, self.kinds
        entries = len(obs.digests) > 0 or len(obs.prev_terms) > 0
        committed = any(obs.committed.values())
        return {
            "election-safety": kinds["role"] > 0 or kinds["vote"] > 0,
            "log-matching": entries,
            "leader-append-only": kinds["role"] > 0 and (kinds["append"] + kinds["truncate"]) > 0,
            "leader-completeness": bool(obs.elections) and committed,
            "state-machine-safety": len(obs.applied) > 0 or committed,
        }

    def _rules(self) -> dict[str, dict[str, Any]]:
        """Per single-event rule: checked (the events carried what it needs) and verdict."""
        out: dict[str, dict[str, Any]] = {}
        for rule in RULES:
            count = self.counts[rule]
            checked = self.rule_evidence[rule] > 0 or count > 0
            entry: dict[str, Any] = {
                "checked": checked,
                "valid": count == 0 if checked else "unknown",
                "violations": count,
                "events_judged": self.rule_evidence[rule],
            }
            if not checked:
                entry["reason"] = RULE_NO_EVIDENCE[rule]
            out[rule] = entry
        return out

    def _properties(self) -> dict[str, dict[str, Any]]:
        """Per property: checked or not (and why), its verdict and violation count. An
        unchecked property is "unknown", never valid (a violation found anyway counts)."""
        out: dict[str, dict[str, Any]] = {}
        for prop, present in self._evidence_for().items():
            count = self.counts[prop]
            checked = present or count > 0
            entry: dict[str, Any] = {
                "checked": checked,
                "valid": count == 0 if checked else "unknown",
                "violations": count,
            }
            if not checked:
                entry["reason"] = self.limits.get(prop) or NO_EVIDENCE[prop]
            elif prop in self.notes:
                entry["note"] = self.notes[prop]
            out[prop] = entry
        return out


def _rules_note(checked: list[str]) -> str:
    return f"; rules hold: {', '.join(checked)}" if checked else ""


def _with_next(events: Iterable[Event]) -> Iterator[tuple[Event, Event | None]]:
    """Each event with the one after it (None at the end), reading lazily."""
    it = iter(events)
    current = next(it, None)
    while current is not None:
        following = next(it, None)
        yield current, following
        current = following


def _installed_snapshot(following: Event | None) -> int:
    """A follower installing a leader's snapshot first drops its whole log; entries the
    snapshot covers are not lost. Returns the index up to which a truncate followed by
    `following` is covered by such a snapshot (0: not followed by one)."""
    if following is not None and following.ev == "snapshot":
        return following.get("index", 0)
    return 0


def _same(a: Committed, b: Committed) -> bool:
    if a.term != b.term:
        return False
    return a.digest is None or b.digest is None or a.digest == b.digest


def _log_has(log: NodeLog, rec: Committed) -> bool:
    """Whether a log holds a committed entry; True when the evidence cannot tell."""
    if rec.index < log.base:
        return True  # compacted into a snapshot, which only holds committed state
    if rec.index == log.base:
        return log.base_term == rec.term
    if rec.index > log.last_index:
        return False
    found = log.entry(rec.index)
    if found is None:
        return True
    return found.term == rec.term and (
        found.digest is None or rec.digest is None or found.digest == rec.digest
    )


def check_evidence(
    evidence: Evidence,
    limits: dict[str, str] | None = None,
    notes: dict[str, str] | None = None,
) -> Result:
    """Check all five properties on already loaded evidence. `limits` are the DB's
    reasons ({property: why}) for properties its evidence cannot show; `notes` qualify
    the checked ones (e.g. "sampled every 0.1 s")."""
    return RaftSafetyChecker(evidence, limits, notes).run()


def evidence_meta(root: str | Path) -> tuple[dict[str, str], dict[str, str]]:
    """(not_checkable, notes) from the evidence.json found at, under or beside `root`."""
    root = Path(root)
    for path in (root / EVIDENCE_FILE, root / "nodes" / EVIDENCE_FILE, root.parent / EVIDENCE_FILE):
        if not path.is_file():
            continue
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}, {}
        if not isinstance(meta, dict):
            return {}, {}
        return _str_map(meta.get("not_checkable")), _str_map(meta.get("notes"))
    return {}, {}


def _str_map(raw: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


def check_events(root: str | Path) -> Result:
    """Load node events and dumps under `root` and check them (see load_evidence)."""
    return check_evidence(load_evidence(root), *evidence_meta(root))
