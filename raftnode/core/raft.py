"""The Raft protocol as a pure state machine (no clocks, sockets or files).

Inputs: `tick()`, `step(msg)`, `propose(command)`, `persisted(...)`. Outputs accumulate in
`msgs`, `events`, the unstable log tail (`dirty_from`) and `install` (a snapshot received
from the leader); `raftnode.core.node.NodeLogic` packs them into a `Ready`.

What it implements, and why each piece is here:
- pre-vote (a node back from a partition cannot bump terms and depose a healthy leader)
  plus check-quorum (a leader cut off from a majority steps down; followers that hear
  from a leader ignore votes for an election timeout);
- RequestVote with the log up-to-date check, AppendEntries with the prevLogIndex /
  prevLogTerm check, truncation only at the first conflicting entry, and fast nextIndex
  back-up with (hint_index, hint_term);
- per-follower progress in probe / replicate / snapshot state: one probe in flight while
  searching for the match point, then pipelined batches capped at `max_append_entries`;
- commit only by counting replicas of a current-term entry, the leader's own copy
  counting only once persisted (`stable_index`);
- heartbeat rounds with a context id, which ReadIndex uses to confirm leadership.
Planted bugs touched here: figure8, forget-vote, no-uptodate-check, bad-truncate, and
the check-quorum half of stale-read and lease-read.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from raftnode.bugs import Bug
from raftnode.core.digest import command_digest
from raftnode.core.log import RaftLog
from raftnode.core.types import Entry, HardState, Message, NodeConfig, PersistentState, Snapshot

FOLLOWER = "follower"
PRE_CANDIDATE = "pre-candidate"
CANDIDATE = "candidate"
LEADER = "leader"

PROBE = "probe"
REPLICATE = "replicate"
SNAPSHOT = "snapshot"


def _vote_fields(
    candidate: str, cand_index: int, cand_term: int, own_index: int, own_term: int
) -> dict[str, Any]:
    """A granted vote as the checkers judge it (Raft §5.4.1): whom, and both logs' ends."""
    return {
        "for": candidate,
        "cand_last_index": cand_index,
        "cand_last_term": cand_term,
        "last_log_index": own_index,
        "last_log_term": own_term,
    }


@dataclass
class Progress:
    """What the leader knows about one follower."""

    match: int = 0
    next: int = 1
    state: str = PROBE
    paused: bool = False  # probe: an append is in flight, wait for its answer
    recent_active: bool = False  # heard from it since the last check-quorum
    read_ack: int = 0  # highest heartbeat context it acknowledged in this term
    ack_wall: int = 0  # leader wall time at which that heartbeat was sent
    snapshot_index: int = 0
    snapshot_sent_tick: int = 0
    sent_commit: int = 0  # highest commit index this follower was told


class Raft:
    """One node's Raft state. Single-threaded; every method runs to completion."""

    def __init__(
        self,
        node_id: str,
        peers: list[str],
        config: NodeConfig,
        restored: PersistentState,
        rng: random.Random,
    ) -> None:
        if node_id not in peers:
            raise ValueError(f"node {node_id!r} is not in its peer list {peers}")
        self.id = node_id
        self.peers = sorted(set(peers))
        self.others = [p for p in self.peers if p != node_id]
        self.quorum = len(self.peers) // 2 + 1
        self.cfg = config
        self.rng = rng
        hs = restored.hard_state
        self.term = hs.term
        self.voted_for = hs.voted_for
        snap = restored.snapshot
        self.snapshot: Snapshot | None = snap
        self.log = RaftLog(snap.index if snap else 0, snap.term if snap else 0, restored.entries)
        self.commit = max(self.log.offset, min(hs.commit, self.log.last_index()))
        self.stable_index = self.log.last_index()
        self.role = FOLLOWER
        self.leader: str | None = None
        self.ticks = 0
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self.randomized_timeout = self._random_timeout()
        self.progress: dict[str, Progress] = {}
        self.votes: dict[str, bool] = {}
        self.wall_ns = 0
        # Heartbeat rounds (ReadIndex and lease bookkeeping).
        self.read_ctx = 0
        self.ctx_sent_wall: dict[int, int] = {}
        self.open_round: int | None = None
        # Outputs, drained by NodeLogic.ready().
        self.msgs: list[Message] = []
        self.events: list[dict[str, Any]] = []
        self.dirty_from: int | None = None
        self.install: Snapshot | None = None  # from the leader: persist, restore the KV
        self.need_flush = False
        # Digests computed at append, reused at apply (hashing is the core's hot spot).
        self.digests: dict[tuple[int, int], str] = {}
        self.emitted_hs = HardState(hs.term, hs.voted_for, hs.commit)

    # ------------------------------------------------------------------ helpers
    def _random_timeout(self) -> int:
        e = self.cfg.election_ticks
        return e + self.rng.randrange(e)

    def event(self, ev: str, **fields: Any) -> None:
        self.events.append({"node": self.id, "term": self.term, "ev": ev, **fields})

    def send(self, kind: str, dst: str, **fields: Any) -> None:
        self.msgs.append(
            Message(kind=kind, src=self.id, dst=dst, term=fields.pop("term", self.term), **fields)
        )

    def hard_state(self) -> HardState:
        """The hard state to hand to storage (forget-vote: the vote is never persisted)."""
        voted = None if self.cfg.has(Bug.FORGET_VOTE) else self.voted_for
        return HardState(self.term, voted, self.commit)

    def take_hard_state(self) -> HardState | None:
        hs = self.hard_state()
        if hs == self.emitted_hs:
            return None
        self.emitted_hs = hs
        return hs

    def take_unstable(self) -> list[Entry]:
        if self.dirty_from is None:
            return []
        out = self.log.slice(self.dirty_from, self.log.last_index() + 1)
        self.dirty_from = None
        return out

    def has_output(self) -> bool:
        return bool(
            self.msgs
            or self.events
            or self.dirty_from is not None
            or self.install is not None
            or self.need_flush
            or self.hard_state() != self.emitted_hs
        )

    def committed_in_term(self) -> bool:
        """True once an entry of the current term (the leader's no-op) is committed: only
        then is the commit index known to cover everything earlier leaders committed."""
        return self.log.term_at(self.commit) == self.term

    def in_lease(self) -> bool:
        """Heard from a live leader within an election timeout (check-quorum lease): votes
        and pre-votes are ignored then, so a rejoining node cannot disrupt."""
        if self.role == LEADER:
            return True
        return self.leader is not None and self.election_elapsed < self.cfg.election_ticks

    def _mark_dirty(self, index: int) -> None:
        self.dirty_from = index if self.dirty_from is None else min(self.dirty_from, index)

    def _append_local(self, entries: list[Entry]) -> None:
        if not entries:
            return
        self._mark_dirty(entries[0].index)
        self.log.append(entries)
        if len(self.digests) > 100_000:
            self.digests.clear()
        for e in entries:
            digest = command_digest(e.command)
            self.digests[(e.index, e.term)] = digest
            self.event("append", index=e.index, entry_term=e.term, digest=digest)

    def take_digest(self, entry: Entry) -> str:
        """The digest of an entry being applied (cached since its append)."""
        digest = self.digests.pop((entry.index, entry.term), None)
        return digest if digest is not None else command_digest(entry.command)

    def _removed_summary(self, index: int) -> dict[str, Any]:
        """What a truncation from `index` removes, for the checkers: (index, term) of up to
        the first 64 removed entries, how many there are, and the commit index then."""
        last = self.log.last_index()
        first = max(index, self.log.offset + 1)
        shown = [[i, self.log.term_at(i)] for i in range(first, min(last, first + 63) + 1)]
        return {"removed": shown, "removed_count": max(0, last - first + 1), "commit": self.commit}

    def _truncate(self, index: int) -> None:
        self.event("truncate", from_index=index, **self._removed_summary(index))
        self.log.truncate_from(index)
        self.stable_index = min(self.stable_index, index - 1)

    def _set_commit(self, index: int) -> None:
        if index > self.commit:
            self.commit = index
            extra = {"leader_term": self.term} if self.role == LEADER else {}
            self.event("commit", index=index, entry_term=self.log.term_at(index), **extra)

    # ------------------------------------------------------------------ roles
    def _set_role(self, role: str) -> None:
        if role != self.role:
            self.role = role
            self.event("role", role=role)

    def become_follower(self, term: int, leader: str | None) -> None:
        if term > self.term:
            self.term = term
            self.voted_for = None
            if self.role == FOLLOWER:
                self.event("role", role=FOLLOWER)
        self._set_role(FOLLOWER)
        self.leader = leader
        self.election_elapsed = 0
        self.randomized_timeout = self._random_timeout()
        self.progress = {}
        self.open_round = None

    def campaign(self, pre: bool) -> None:
        """Start a pre-vote round (pre=True) or a real election."""
        self.leader = None
        self.election_elapsed = 0
        self.randomized_timeout = self._random_timeout()
        self.votes = {self.id: True}
        if pre:
            self._set_role(PRE_CANDIDATE)
            kind, term = "prevote", self.term + 1
        else:
            self.term += 1
            self.voted_for = self.id
            self._set_role(CANDIDATE)
            last_index, last_term = self.log.last_index(), self.log.last_term()
            self.event(
                "vote", **_vote_fields(self.id, last_index, last_term, last_index, last_term)
            )
            kind, term = "vote", self.term
        if len(self.votes) >= self.quorum:
            self._won(pre)
            return
        for p in self.others:
            self.send(
                kind, p, term=term, log_index=self.log.last_index(), log_term=self.log.last_term()
            )

    def _won(self, pre: bool) -> None:
        if pre:
            self.campaign(pre=False)
        else:
            self.become_leader()

    def become_leader(self) -> None:
        self._set_role(LEADER)
        self.leader = self.id
        self.heartbeat_elapsed = 0
        self.election_elapsed = 0
        last = self.log.last_index()
        self.progress = {p: Progress(next=last + 1) for p in self.others}
        self.ctx_sent_wall = {}
        self.open_round = None
        # The no-op: committing an entry of our own term commits everything before it.
        self._append_local([Entry(self.term, last + 1, None)])
        self.need_flush = True
        self.maybe_commit()

    # ------------------------------------------------------------------ ticks
    def tick(self, wall_ns: int) -> None:
        self.ticks += 1
        self.wall_ns = wall_ns
        self.election_elapsed += 1
        if self.role == LEADER:
            self.heartbeat_elapsed += 1
            if self.election_elapsed >= self.cfg.election_ticks:
                self.election_elapsed = 0
                self._check_quorum()
                if self.role != LEADER:
                    return
            if self.heartbeat_elapsed >= self.cfg.heartbeat_ticks:
                self.broadcast_heartbeat()
        elif self.election_elapsed >= self.randomized_timeout:
            self.campaign(pre=True)

    def _check_quorum(self) -> None:
        """Step down when a quorum has not been heard from for an election timeout.

        The read bugs model implementations that lack this: under stale-read a leader
        only steps down on seeing a higher term; under lease-read it holds on while its
        wall-clock lease lasts, so a clock that jumps back keeps a deposed leader
        serving reads."""
        active = 1 + sum(1 for pr in self.progress.values() if pr.recent_active)
        for pr in self.progress.values():
            pr.recent_active = False
        if self.cfg.has(Bug.STALE_READ):
            return
        if self.cfg.has(Bug.LEASE_READ) and self.in_wall_lease():
            return
        if active < self.quorum:
            self.become_follower(self.term, None)

    # ------------------------------------------------------------------ leader side
    def propose(self, command: dict[str, Any]) -> int:
        """Append a client command to the leader's log; returns its index."""
        assert self.role == LEADER
        index = self.log.last_index() + 1
        self._append_local([Entry(self.term, index, command)])
        self.need_flush = True
        return index

    def flush(self) -> None:
        """Send the batched new entries to every follower that can take them."""
        if self.role == LEADER and self.need_flush:
            for p in self.others:
                sent = len(self.msgs)
                self.send_append(p)
                pr = self.progress[p]
                if len(self.msgs) == sent and min(self.commit, pr.match) > pr.sent_commit:
                    self._send_commit(p, pr)  # idle follower: tell it the new commit now
        self.need_flush = False

    def _send_commit(self, peer: str, pr: Progress, context: int | None = None) -> None:
        """An empty AppendEntries at the follower's match index: always accepted by a
        healthy follower; carries the commit index and, for heartbeats, a context id."""
        prev = min(max(pr.match, self.log.offset), self.log.last_index())
        commit = min(self.commit, pr.match)
        pr.sent_commit = max(pr.sent_commit, commit)
        self.send(
            "append",
            peer,
            log_index=prev,
            log_term=self.log.term_at(prev) or 0,
            commit=commit,
            context=context,
        )

    def send_append(self, peer: str, allow_empty: bool = False) -> None:
        pr = self.progress[peer]
        if pr.state == SNAPSHOT:
            return
        if pr.state == PROBE and pr.paused and not allow_empty:
            return
        prev = pr.next - 1
        prev_term = self.log.term_at(prev)
        if prev_term is None:
            if prev < self.log.offset:
                self.send_snapshot(peer)
                return
            prev = self.log.last_index()  # next ran past the end; never sent further than that
            pr.next = prev + 1
            prev_term = self.log.last_term()
        last = min(self.log.last_index(), prev + self.cfg.max_append_entries)
        entries = self.log.slice(prev + 1, last + 1)
        if not entries and not allow_empty:
            return
        self.send(
            "append", peer, log_index=prev, log_term=prev_term, entries=entries, commit=self.commit
        )
        pr.sent_commit = max(pr.sent_commit, min(self.commit, prev + len(entries)))
        if entries:
            if pr.state == REPLICATE:
                pr.next = entries[-1].index + 1
            else:
                pr.paused = True

    def send_snapshot(self, peer: str) -> None:
        pr = self.progress[peer]
        assert self.snapshot is not None, "log compacted without a snapshot"
        pr.state = SNAPSHOT
        pr.snapshot_index = self.snapshot.index
        pr.snapshot_sent_tick = self.ticks
        self.send("snapshot", peer, snapshot=self.snapshot, commit=self.commit)

    def broadcast_heartbeat(self) -> int:
        """Send a heartbeat round with a fresh context id and return that id."""
        self.heartbeat_elapsed = 0
        self.read_ctx += 1
        ctx = self.read_ctx
        self.ctx_sent_wall[ctx] = self.wall_ns
        for p in self.others:
            self._send_commit(p, self.progress[p], ctx)
        self._prune_ctx()
        return ctx

    def request_read_round(self) -> int:
        """Context id of a heartbeat round sent after now (joins a round not yet flushed)."""
        if self.open_round is None:
            self.open_round = self.broadcast_heartbeat()
        return self.open_round

    def confirmed_ctx(self) -> int:
        """Highest heartbeat round acknowledged by a quorum (counting ourselves)."""
        acks = sorted(
            [self.read_ctx] + [pr.read_ack for pr in self.progress.values()], reverse=True
        )
        return acks[self.quorum - 1]

    def in_wall_lease(self) -> bool:
        """The lease-read bug's test: less than one election timeout, by this node's own
        wall clock, since the newest heartbeat a quorum acknowledged was sent."""
        return self.wall_ns - self.lease_start() < self.cfg.lease_ns

    def lease_start(self) -> int:
        """Own-clock wall time of the newest heartbeat a quorum has acknowledged."""
        walls = sorted(
            [self.wall_ns] + [pr.ack_wall for pr in self.progress.values()], reverse=True
        )
        return walls[self.quorum - 1]

    def _prune_ctx(self) -> None:
        """Keep the send times of the last 256 rounds only; an answer to an older round
        then counts as sent at time 0, which can only shorten the (bug's) lease."""
        if len(self.ctx_sent_wall) > 512:
            floor = self.read_ctx - 256
            self.ctx_sent_wall = {c: w for c, w in self.ctx_sent_wall.items() if c > floor}

    def maybe_commit(self) -> None:
        """Advance commit to the highest index stored on a quorum — only if it is an entry
        of the current term (figure8 bug: any term)."""
        if self.role != LEADER:
            return
        matches = sorted(
            [self.stable_index] + [pr.match for pr in self.progress.values()], reverse=True
        )
        n = matches[self.quorum - 1]
        if n <= self.commit:
            return
        if self.log.term_at(n) == self.term or self.cfg.has(Bug.FIGURE8):
            self._set_commit(n)
            self.need_flush = True  # followers learn the new commit index promptly

    def _on_append_resp(self, m: Message) -> None:
        pr = self.progress.get(m.src)
        if pr is None:
            return
        pr.recent_active = True
        if isinstance(m.context, int) and m.context > pr.read_ack:
            pr.read_ack = m.context
            pr.ack_wall = max(pr.ack_wall, self.ctx_sent_wall.get(m.context, 0))
        if m.reject:
            if self._on_reject(m.src, pr, m):
                return
            # A stale rejection (say, of a heartbeat) still shows the follower is alive.
        elif m.match_index > pr.match:
            pr.match = m.match_index
            if pr.state == PROBE:
                pr.state = REPLICATE
                pr.next = pr.match + 1
            pr.next = max(pr.next, pr.match + 1)
            pr.paused = False
            self.maybe_commit()
        if pr.state == PROBE and (m.context is not None or not m.reject):
            pr.paused = False
        if pr.state == SNAPSHOT:
            if pr.match >= pr.snapshot_index:
                pr.state, pr.next, pr.paused = REPLICATE, pr.match + 1, False
            elif self.ticks - pr.snapshot_sent_tick >= self.cfg.election_ticks:
                pr.state = PROBE  # the snapshot got lost: try again
                pr.paused = False
        if pr.match < self.log.last_index():
            self.send_append(m.src, allow_empty=m.context is not None)

    def _on_reject(self, peer: str, pr: Progress, m: Message) -> bool:
        """Back nextIndex up after a rejection; False when the rejection was stale."""
        rejected = m.log_index
        if self._lost_log(pr, m):
            # The follower holds less than it once acknowledged: its disk was wiped (or
            # replaced). Forget what we knew and probe again from its real end; send_append
            # falls back to InstallSnapshot when that part of our log is compacted.
            pr.match = m.hint_index - 1
            pr.next = m.hint_index
            pr.state = PROBE
            pr.paused = False
            self.send_append(peer)
            return True
        if rejected <= pr.match:
            return False  # stale: that prefix is already known to match
        if pr.state == PROBE and rejected != pr.next - 1:
            return False  # stale answer to an earlier probe
        if pr.state == SNAPSHOT:
            return False
        if m.hint_term == 0:
            new_next = m.hint_index
        else:
            last_of_term = self.log.last_index_of_term(m.hint_term, rejected)
            new_next = last_of_term + 1 if last_of_term is not None else m.hint_index
        pr.next = max(pr.match + 1, min(new_next, rejected))
        pr.state = PROBE
        pr.paused = False
        self.send_append(peer)
        return True

    @staticmethod
    def _lost_log(pr: Progress, m: Message) -> bool:
        """A rejection of an append at or past the follower's match index, whose hint says
        its log ends before that match (hint_term 0: "my log is short, next is
        hint_index"). Within one term the follower acknowledged `match` itself, so only a
        lost disk explains it; etcd's raft resets a follower that restarted empty the same
        way. (A duplicated old rejection can look alike: resetting then costs one resend
        of entries the follower accepts as already present, never safety.)"""
        return m.hint_term == 0 and 0 < m.hint_index <= pr.match <= m.log_index

    def _on_snapshot_resp(self, m: Message) -> None:
        pr = self.progress.get(m.src)
        if pr is None:
            return
        pr.recent_active = True
        pr.match = max(pr.match, m.match_index)
        pr.state, pr.next, pr.paused = REPLICATE, pr.match + 1, False
        self.maybe_commit()
        self.send_append(m.src)

    # ------------------------------------------------------------------ follower side
    def _on_append(self, m: Message) -> None:
        if self.role != FOLLOWER:
            self.become_follower(self.term, m.src)
        self.leader = m.src
        self.election_elapsed = 0
        reply = {"context": m.context, "log_index": m.log_index}
        if m.log_index < self.commit:
            self.send("append_resp", m.src, match_index=self.commit, **reply)
            return
        if self.log.term_at(m.log_index) != m.log_term:
            last = self.log.last_index()
            if m.log_index > last:
                hint_index, hint_term = last + 1, 0
            else:
                hint_index = self.log.first_index_of_term(m.log_index)
                hint_term = self.log.term_at(m.log_index) or 0
            self.send(
                "append_resp",
                m.src,
                reject=True,
                hint_index=hint_index,
                hint_term=hint_term,
                match_index=0,
                **reply,
            )
            return
        self._accept_entries(m)
        last_new = m.log_index + len(m.entries)
        self._set_commit(min(m.commit, last_new))
        self.send("append_resp", m.src, match_index=last_new, **reply)

    def _accept_entries(self, m: Message) -> None:
        """Append what is new; truncate only at the first entry whose term conflicts
        (bad-truncate: cut everything after prevLogIndex whenever entries arrive, so a
        stale or duplicated AppendEntries erases entries already acknowledged)."""
        if not m.entries:
            return
        if self.cfg.has(Bug.BAD_TRUNCATE):
            if self.log.last_index() > m.log_index:
                self._truncate(m.log_index + 1)
            self._append_local(list(m.entries))
            return
        for pos, e in enumerate(m.entries):
            have = self.log.term_at(e.index)
            if have == e.term:
                continue
            if have is not None:
                self._truncate(e.index)
            self._append_local(list(m.entries[pos:]))
            return

    def _on_snapshot(self, m: Message) -> None:
        if self.role != FOLLOWER:
            self.become_follower(self.term, m.src)
        self.leader = m.src
        self.election_elapsed = 0
        snap = m.snapshot
        if snap is None:
            return
        if snap.index <= self.commit:
            self.send("snapshot_resp", m.src, match_index=self.commit)
            return
        if self.log.term_at(snap.index) == snap.term:
            self._set_commit(snap.index)  # we hold that prefix already: just commit it
        else:
            self.event(
                "truncate",
                from_index=self.log.offset + 1,
                **self._removed_summary(self.log.offset + 1),
            )
            self.log.reset(snap.index, snap.term)
            self.snapshot = snap
            self.install = snap
            self.dirty_from = None
            self.stable_index = snap.index
            self.commit = snap.index
            self.event("snapshot", index=snap.index, entry_term=snap.term)
            self.event("commit", index=snap.index, entry_term=snap.term)
        self.send("snapshot_resp", m.src, match_index=snap.index)

    # ------------------------------------------------------------------ votes
    def _log_ok(self, m: Message) -> bool:
        if self.cfg.has(Bug.NO_UPTODATE_CHECK):
            return True
        my_term = self.log.last_term()
        return m.log_term > my_term or (
            m.log_term == my_term and m.log_index >= self.log.last_index()
        )

    def _on_vote_request(self, m: Message) -> None:
        pre = m.kind == "prevote"
        if pre:
            can = m.term > self.term and not self.in_lease()
        else:
            can = self.voted_for == m.src or (self.voted_for is None and self.leader is None)
        grant = can and self._log_ok(m)
        resp = "prevote_resp" if pre else "vote_resp"
        if grant:
            if not pre:
                self.voted_for = m.src
                self.election_elapsed = 0
                self.event(
                    "vote",
                    **_vote_fields(
                        m.src, m.log_index, m.log_term, self.log.last_index(), self.log.last_term()
                    ),
                )
            self.send(resp, m.src, term=m.term, granted=True)
        else:
            self.send(resp, m.src, term=self.term, reject=True)

    def _on_vote_resp(self, m: Message) -> None:
        pre = m.kind == "prevote_resp"
        if pre and (self.role != PRE_CANDIDATE or (m.granted and m.term != self.term + 1)):
            return
        if not pre and self.role != CANDIDATE:
            return
        if m.src in self.votes:
            return
        self.votes[m.src] = m.granted
        granted = sum(1 for v in self.votes.values() if v)
        if granted >= self.quorum:
            self._won(pre)
        elif len(self.votes) - granted >= self.quorum:
            self.become_follower(self.term, None)

    # ------------------------------------------------------------------ step
    def step(self, m: Message) -> None:
        if m.term > self.term:
            if m.kind == "prevote" or (m.kind == "prevote_resp" and m.granted):
                pass  # pre-vote never changes terms
            elif m.kind == "vote" and self.in_lease():
                return  # a live leader is known: ignore the disruptive candidate
            else:
                leader = m.src if m.kind in ("append", "snapshot") else None
                self.become_follower(m.term, leader)
        elif m.term < self.term:
            if m.kind in ("append", "snapshot"):
                # Tell a deposed leader about the newer term so it steps down.
                self.send("append_resp", m.src, reject=True, log_index=m.log_index, match_index=0)
            elif m.kind == "prevote":
                self.send("prevote_resp", m.src, reject=True)
            return  # otherwise stale: ignore
        handler = {
            "prevote": self._on_vote_request,
            "vote": self._on_vote_request,
            "prevote_resp": self._on_vote_resp,
            "vote_resp": self._on_vote_resp,
            "append": self._on_append,
            "snapshot": self._on_snapshot,
        }.get(m.kind)
        if handler is not None:
            handler(m)
        elif self.role == LEADER and m.term == self.term:
            if m.kind == "append_resp":
                self._on_append_resp(m)
            elif m.kind == "snapshot_resp":
                self._on_snapshot_resp(m)

    # ------------------------------------------------------------------ storage feedback
    def persisted(self, entries: list[Entry], snapshot: Snapshot | None) -> None:
        """Entries/snapshot of an earlier Ready are durable now."""
        if snapshot is not None:
            self.stable_index = max(self.stable_index, min(snapshot.index, self.log.last_index()))
        if entries:
            last = entries[-1]
            if self.log.term_at(last.index) == last.term:
                self.stable_index = max(self.stable_index, last.index)
        self.maybe_commit()

    def compact(self, snap: Snapshot) -> None:
        """A local snapshot covers the log up to snap.index."""
        self.snapshot = snap
        self.log.compact(snap.index, snap.term)
