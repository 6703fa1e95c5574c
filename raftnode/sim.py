"""A deterministic, seeded, in-memory cluster of NodeLogic instances.

Everything a real deployment does to a Raft cluster, minus the OS: a network that drops,
delays (hence reorders) and duplicates messages and can be partitioned; crash-restart
that keeps only what reached the node's simulated disk; per-node wall clocks that can be
skewed; clients that submit operations and record what was acknowledged. The same seed
gives the same run, so a failing schedule is a reproducible bug report.

`Invariants` checks, after every tick: at most one leader per term, log matching (every
(index, term) ever written holds one command and one predecessor term), leader
completeness, state machine safety (one command applied per index), acknowledged writes
never lost (an acknowledged index never applies a different command, and is applied by
the end), and a linearizability-lite rule for reads (a read invoked after a write on its
key was acknowledged returns that write or a later one). A violation raises
`InvariantViolation(name, detail)`.

Run one from the shell: `python -m raftnode.sim --nodes 5 --seed 7 --ticks 3000 [--bug X]`.
"""

from __future__ import annotations

import argparse
import heapq
import random
import sys
from dataclasses import dataclass, field
from typing import Any

from raftnode.bugs import BUGS
from raftnode.core.digest import command_digest
from raftnode.core.node import NodeLogic
from raftnode.core.raft import LEADER
from raftnode.core.types import (
    ClientReply,
    ClientRequest,
    Entry,
    HardState,
    Message,
    NodeConfig,
    PersistentState,
    Ready,
    Snapshot,
)
from raftnode.kv import BadRequest, command_from_request

TICK_NS_BASE = 1_700_000_000_000_000_000


class InvariantViolation(AssertionError):
    """A Raft or client-visible safety property broke; `name` says which."""

    def __init__(self, name: str, detail: str) -> None:
        super().__init__(f"{name}: {detail}")
        self.name = name
        self.detail = detail


@dataclass
class SimConfig:
    """Shape of one simulated run. Delays are in ticks."""

    nodes: int = 3
    seed: int = 0
    bugs: frozenset[str] = frozenset()
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
        self.bugs = frozenset(self.bugs)
        unknown = set(self.bugs) - set(BUGS)
        if unknown:
            raise ValueError(f"unknown bug(s): {', '.join(sorted(unknown))}")
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


@dataclass
class SimNode:
    id: str
    index: int
    disk: Disk = field(default_factory=Disk)
    logic: NodeLogic | None = None
    cache: list[Ready] = field(default_factory=list)  # written but not fsynced (no-fsync)
    clock_ns: int = TICK_NS_BASE
    clock_rate: float = 1.0
    handles: dict[str, None] = field(default_factory=dict)  # client requests waiting here
    paused: bool = False

    @property
    def up(self) -> bool:
        return self.logic is not None


@dataclass
class ClientOp:
    """One client operation as the sim's clients saw it (ticks for times)."""

    handle: str
    node: str
    op: str
    key: str | None
    value: Any
    invoke: int
    command: dict[str, Any] | None = None
    complete: int | None = None
    reply: ClientReply | None = None
    # Global sequence numbers of invoke/complete: orders events within one tick.
    invoke_seq: int = 0
    complete_seq: int = 0

    @property
    def ok(self) -> bool:
        return self.reply is not None and self.reply.ok


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


class Cluster:
    """N simulated nodes, their disks, the network, the clocks and the client history."""

    def __init__(self, cfg: SimConfig) -> None:
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.ids = [f"n{i + 1}" for i in range(cfg.nodes)]
        self.nodes = {nid: SimNode(nid, i) for i, nid in enumerate(self.ids)}
        self.net = Network(random.Random(cfg.seed ^ 0x5EED), cfg)
        self.inv = Invariants()
        self.now = 0
        self.ops: dict[str, ClientOp] = {}
        self.history: list[ClientOp] = []
        self._handle_seq = 0
        self._order = 0
        self.restarts = 0
        for nid in self.ids:
            self._boot(nid)

    # ------------------------------------------------------------------ node lifecycle
    def _boot(self, nid: str) -> None:
        node = self.nodes[nid]
        node.logic = NodeLogic(
            nid, self.ids, self.cfg.node_config(node.index + 1000 * self.restarts), node.disk.load()
        )
        self.restarts += 1
        self._drain(nid)

    def crash(self, nid: str) -> None:
        """Kill -9: memory and the page cache are gone, the disk stays."""
        node = self.nodes[nid]
        if not node.up:
            return
        node.logic = None
        node.cache = []
        for h in list(node.handles):
            self._complete(h, ClientReply(h, ok=False, error="timeout", message="node crashed"))
        node.handles.clear()

    def restart(self, nid: str) -> None:
        if not self.nodes[nid].up:
            self._boot(nid)

    def partition(self, groups: list[list[str]]) -> None:
        """Only nodes in the same group can talk; nodes not listed are isolated."""
        where = {n: gi for gi, g in enumerate(groups) for n in g}
        self.net.blocked = {
            (a, b)
            for a in self.ids
            for b in self.ids
            if a != b
            and (where.get(a, -1 - self.ids.index(a)) != where.get(b, -1 - self.ids.index(b)))
        }

    def isolate(self, nid: str) -> None:
        self.partition([[n for n in self.ids if n != nid], [nid]])

    def block(self, src: str, dst: str) -> None:
        self.net.blocked.add((src, dst))

    def heal(self) -> None:
        self.net.blocked = set()
        for src, dst in sorted(self.net.held):
            self.net.release(src, dst, self.now)

    def hold(self, src: str, dst: str) -> None:
        """Delay every src->dst message until release() (a slow link, no loss)."""
        self.net.held.add((src, dst))

    def release(self, src: str, dst: str) -> None:
        self.net.release(src, dst, self.now)
        self._deliver()

    def pause(self, nid: str) -> None:
        """SIGSTOP: no ticks, and messages to the node wait until resume()."""
        self.nodes[nid].paused = True
        for other in self.ids:
            if other != nid:
                self.net.held.add((other, nid))

    def resume(self, nid: str) -> None:
        """SIGCONT: the node's timer fires first (it reads its wall clock), then the
        messages that queued up while it was stopped arrive."""
        node = self.nodes[nid]
        if not node.paused:
            return
        node.paused = False
        if node.logic is not None:
            node.logic.tick(node.clock_ns)
            self._drain(nid)
        for other in self.ids:
            if other != nid:
                self.net.release(other, nid, self.now)

    def campaign(self, nid: str, pre: bool = True) -> None:
        """Make a node's election timer fire now (pre=False skips pre-vote, as a
        leadership transfer does). For targeted schedules."""
        logic = self.nodes[nid].logic
        if logic is not None:
            logic.raft.campaign(pre=pre)
            self._drain(nid)

    def skew(self, nid: str, offset_ns: int = 0, rate: float | None = None) -> None:
        """Jump a node's wall clock by offset_ns and/or change its rate (0 freezes it)."""
        node = self.nodes[nid]
        node.clock_ns += offset_ns
        if rate is not None:
            node.clock_rate = rate

    def reset_clocks(self) -> None:
        for node in self.nodes.values():
            node.clock_rate = 1.0

    # ------------------------------------------------------------------ time
    def leader(self) -> str | None:
        """The leader of the highest term among live nodes, if any."""
        best: tuple[int, str] | None = None
        for nid, node in self.nodes.items():
            if node.logic and node.logic.raft.role == LEADER:
                t = node.logic.raft.term
                if best is None or t > best[0]:
                    best = (t, nid)
        return best[1] if best else None

    def tick(self) -> None:
        self.now += 1
        tick_ns = self.cfg.tick_ms * 1_000_000
        for nid in self.ids:
            node = self.nodes[nid]
            node.clock_ns += int(tick_ns * node.clock_rate)
            if node.logic is None or node.paused:
                continue
            if self.cfg.fsync_every and self.now % self.cfg.fsync_every == 0:
                self._fsync(node)
            node.logic.tick(node.clock_ns)
            self._drain(nid)
        self._deliver()
        if self.cfg.check_every_tick:
            self.check()

    def run(self, ticks: int) -> None:
        for _ in range(ticks):
            self.tick()

    def run_until(self, pred: Any, max_ticks: int) -> bool:
        for _ in range(max_ticks):
            if pred():
                return True
            self.tick()
        return bool(pred())

    def _deliver(self) -> None:
        while True:
            msgs = self.net.due(self.now)
            if not msgs:
                return
            for m in msgs:
                node = self.nodes.get(m.dst)
                if node is None or node.logic is None:
                    continue
                node.logic.step(m)
                self._drain(m.dst)

    def _fsync(self, node: SimNode) -> None:
        for rd in node.cache:
            node.disk.save(rd)
        node.cache = []

    def _drain(self, nid: str) -> None:
        node = self.nodes[nid]
        logic = node.logic
        assert logic is not None
        while logic.has_ready():
            rd = logic.ready()
            self.inv.on_entries(logic, rd.entries)
            if logic.no_fsync:
                node.cache.append(rd)  # "written", not durable; sent anyway
            else:
                node.disk.save(rd)
            for m in rd.messages:
                self.net.send(m, self.now)
            self.inv.on_events(nid, rd.events)
            for r in rd.replies:
                node.handles.pop(r.handle, None)
                self._complete(r.handle, r)
            logic.advance(rd)
            self.inv.on_state(logic)

    def check(self) -> None:
        for node in self.nodes.values():
            if node.logic is not None:
                self.inv.on_state(node.logic)

    # ------------------------------------------------------------------ clients
    def submit(
        self, nid: str, op: str, key: str | None = None, value: Any = None, **kw: Any
    ) -> ClientOp:
        """Submit a client op at node `nid`; the ClientOp fills in when it completes."""
        self._handle_seq += 1
        handle = f"h{self._handle_seq}"
        req = ClientRequest(handle=handle, op=op, key=key, value=value, **kw)
        try:
            command = command_from_request(req)
        except BadRequest:
            command = None
        self._order += 1
        cop = ClientOp(handle, nid, op, key, value, self.now, command, invoke_seq=self._order)
        self.ops[handle] = cop
        self.history.append(cop)
        node = self.nodes[nid]
        if node.logic is None:
            self._complete(
                handle,
                ClientReply(handle, ok=False, error="unavailable", message="connection refused"),
            )
            return cop
        node.handles[handle] = None
        node.logic.submit(req)
        self._drain(nid)
        return cop

    def _complete(self, handle: str, reply: ClientReply) -> None:
        cop = self.ops.get(handle)
        if cop is None or cop.complete is not None:
            return
        self._order += 1
        cop.complete = self.now
        cop.complete_seq = self._order
        cop.reply = reply
        if reply.ok and cop.op != "read" and reply.index is not None and cop.command is not None:
            self.inv.on_ack(reply.index, command_digest(cop.command), handle)
        if reply.ok and cop.op == "read":
            self._check_read(cop)

    def _check_read(self, read: ClientOp) -> None:
        """Linearizability-lite: the value read must come from the newest write on that key
        acknowledged before the read was invoked, or from a later write."""
        need, need_h = 0, None
        for w in self.history:
            if w.op != "write" or w.key != read.key or not w.ok or w.complete is None:
                continue
            if w.complete_seq < read.invoke_seq and w.reply and (w.reply.index or 0) > need:
                need, need_h = w.reply.index or 0, w.handle
        if need == 0:
            return
        got = 0
        value = read.reply.value if read.reply else None
        if value is not None:
            writer = next(
                (
                    w
                    for w in self.history
                    if w.op == "write" and w.key == read.key and w.value == value and w.command
                ),
                None,
            )
            if writer is None or writer.command is None:
                return
            got_idx = self.inv.applied_by_digest.get(command_digest(writer.command))
            if got_idx is None:
                return
            got = got_idx
        if got < need:
            raise InvariantViolation(
                "stale-read",
                f"{read.handle} at {read.node} read {value!r} (index {got}) of {read.key} after "
                f"{need_h} was acknowledged at index {need}",
            )

    # ------------------------------------------------------------------ end of run
    def settle(self, max_ticks: int = 2000) -> bool:
        """Heal everything, restart crashed nodes, let the cluster converge, then check
        that every acknowledged write was applied and lists hold no duplicates. Returns
        whether the cluster converged (a leader of the newest term, everyone applied)."""
        self.heal()
        self.reset_clocks()
        for nid in self.ids:
            self.resume(nid)
            self.restart(nid)
        self.net.queue = []

        def converged() -> bool:
            lead = self.leader()
            if lead is None:
                return False
            logic = self.nodes[lead].logic
            assert logic is not None
            if not logic.raft.committed_in_term():
                return False
            target = logic.raft.commit
            return all(
                n.logic is not None and n.logic.applied >= target for n in self.nodes.values()
            )

        done = self.run_until(converged, max_ticks)
        self.check()
        self.inv.final_durability()
        self.check_no_duplicates()
        return done

    def check_no_duplicates(self) -> None:
        """Appends carry unique values: a list with a repeat means a retry applied twice."""
        for node in self.nodes.values():
            if node.logic is None:
                continue
            for key, value in node.logic.kv.data.items():
                if isinstance(value, list):
                    seen: set[str] = set()
                    for v in value:
                        tag = repr(v)
                        if tag in seen:
                            raise InvariantViolation(
                                "duplicate-apply", f"{node.id} list {key} holds {v!r} twice"
                            )
                        seen.add(tag)


@dataclass
class Workload:
    """Random client traffic: register writes/reads, appends with (client_id, seq) and
    retries of timed-out appends at another node (what a real client does)."""

    rate: float = 0.5  # ops per tick
    keys: int = 2
    read_share: float = 0.4
    append_share: float = 0.2
    retry: bool = True
    _n: int = 0
    _retried: set[str] = field(default_factory=set)

    def step(self, cl: Cluster, rng: random.Random) -> None:
        if rng.random() < self.rate:
            self._n += 1
            nid = rng.choice(cl.ids)
            r = rng.random()
            if r < self.read_share:
                cl.submit(nid, "read", f"k{rng.randrange(self.keys)}")
            elif r < self.read_share + self.append_share:
                cl.submit(nid, "append", "list", f"a{self._n}", client_id=f"c{self._n}", seq=1)
            else:
                cl.submit(nid, "write", f"k{rng.randrange(self.keys)}", f"v{self._n}")
        if self.retry:
            for cop in cl.history[-50:]:
                if (
                    cop.op == "append"
                    and cop.reply is not None
                    and cop.reply.error == "timeout"
                    and cop.handle not in self._retried
                ):
                    self._retried.add(cop.handle)
                    others = [n for n in cl.ids if n != cop.node] or cl.ids
                    cmd = cop.command or {}
                    cl.submit(
                        rng.choice(others),
                        "append",
                        cop.key,
                        cop.value,
                        client_id=cmd.get("client_id"),
                        seq=cmd.get("seq"),
                    )


@dataclass
class Nemesis:
    """Random faults: crash/restart, partitions, clock skew; one change every `every` ticks."""

    every: int = 40
    crash: bool = True
    partition: bool = True
    clock: bool = False
    max_down: int | None = None

    def step(self, cl: Cluster, rng: random.Random) -> None:
        if cl.now % self.every:
            return
        choices = ["heal", "restart"]
        if self.crash:
            choices += ["crash", "crash-leader", "pause"]
        if self.partition:
            choices += ["isolate", "isolate-leader", "split"]
        if self.clock:
            choices += ["clock"]
        what = rng.choice(choices)
        down = [n for n in cl.ids if not cl.nodes[n].up]
        max_down = self.max_down if self.max_down is not None else (len(cl.ids) - 1) // 2
        if what == "heal":
            cl.heal()
            for n in cl.ids:
                cl.resume(n)
        elif what == "pause":
            cl.pause(cl.leader() or rng.choice(cl.ids))
        elif what == "restart":
            for n in down:
                cl.restart(n)
        elif what in ("crash", "crash-leader") and len(down) < max(max_down, 1):
            target = cl.leader() if what == "crash-leader" else None
            cl.crash(target or rng.choice(cl.ids))
        elif what in ("isolate", "isolate-leader"):
            target = cl.leader() if what == "isolate-leader" else None
            cl.isolate(target or rng.choice(cl.ids))
        elif what == "split":
            ids = list(cl.ids)
            rng.shuffle(ids)
            cut = rng.randrange(1, len(ids)) if len(ids) > 1 else 1
            cl.partition([ids[:cut], ids[cut:]])
        elif what == "clock":
            cl.skew(rng.choice(cl.ids), rng.choice([-1, 1]) * rng.randrange(10**9, 10**11))


def simulate(
    cfg: SimConfig, ticks: int, workload: Workload | None = None, nemesis: Nemesis | None = None
) -> Cluster:
    """One seeded run: traffic + faults for `ticks`, then settle. Raises InvariantViolation."""
    cl = Cluster(cfg)
    rng = random.Random(cfg.seed * 7919 + 1)
    workload = workload or Workload()
    for _ in range(ticks):
        if nemesis:
            nemesis.step(cl, rng)
        workload.step(cl, rng)
        cl.tick()
    cl.settle()
    return cl


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m raftnode.sim", description=__doc__.split("\n")[0])
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seeds", type=int, default=1, help="run this many seeds from --seed")
    ap.add_argument("--ticks", type=int, default=2000)
    ap.add_argument("--bug", action="append", default=[], choices=sorted(BUGS))
    ap.add_argument("--drop", type=float, default=0.05)
    ap.add_argument("--duplicate", type=float, default=0.02)
    ap.add_argument("--max-delay", type=int, default=3)
    ap.add_argument("--clock", action="store_true", help="also skew clocks")
    args = ap.parse_args(argv)
    bad = 0
    for seed in range(args.seed, args.seed + args.seeds):
        cfg = SimConfig(
            nodes=args.nodes,
            seed=seed,
            bugs=frozenset(args.bug),
            drop=args.drop,
            duplicate=args.duplicate,
            max_delay=args.max_delay,
        )
        try:
            cl = simulate(cfg, args.ticks, nemesis=Nemesis(clock=args.clock))
        except InvariantViolation as exc:
            bad += 1
            print(f"seed {seed}: VIOLATION {exc}")
            continue
        acked = sum(1 for op in cl.history if op.ok)
        print(
            f"seed {seed}: ok ({len(cl.history)} ops, {acked} acknowledged, max commit {max(cl.inv.committed, default=0)})"
        )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
