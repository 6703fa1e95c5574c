"""The simulated world: N NodeLogic instances, their disks, the network, the clocks and the
clients' history, driven tick by tick.

Everything a real deployment does to a Raft cluster, minus the OS: a network that drops,
delays (hence reorders) and duplicates messages and can be partitioned; crash-restart
that keeps only what reached the node's simulated disk; per-node wall clocks that can be
skewed; clients that submit operations and record what was acknowledged. The same seed
gives the same run, so a failing schedule is a reproducible bug report. `Invariants`
(raftnode/sim/invariants.py) observes every Ready; the client-visible checks (stale reads,
duplicate effects) are here because they need the history.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from raftnode.core.digest import command_digest
from raftnode.core.node import NodeLogic
from raftnode.core.raft import LEADER
from raftnode.core.types import ClientReply, ClientRequest, Message, Ready
from raftnode.kv import BadRequest, command_from_request
from raftnode.sim.config import TICK_NS_BASE, SimConfig
from raftnode.sim.disk import Disk
from raftnode.sim.invariants import Invariants, InvariantViolation
from raftnode.sim.network import Network


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


class SimCluster:
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
            nid,
            self.ids,
            self.cfg.node_config(node.index + 1000 * self.restarts),
            node.disk.load(),
            boot=f"{nid}.{self.restarts}",  # reproducible, fresh per incarnation
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

    def wipe(self, nid: str) -> None:
        """Crash and lose the disk too: an operator deleted the data dir (or replaced the
        machine). Not a fault Raft tolerates for safety (the node forgets its votes and
        acknowledgements); the leader must still bring it back as an empty follower."""
        self.crash(nid)
        self.nodes[nid].disk = Disk()

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

    def inject(self, msg: Message) -> None:
        """Deliver `msg` now, past blocks and holds: the late duplicate of an old message
        that a targeted schedule needs at one exact moment."""
        node = self.nodes[msg.dst]
        if node.logic is not None:
            node.logic.step(msg)
            self._drain(msg.dst)

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
