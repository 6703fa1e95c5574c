"""NodeLogic: Raft + the KV state machine + client requests, still without any I/O.

The runtime (raftnode/runtime.py) and the simulation (raftnode/sim/) drive it the same
way: `tick`/`step`/`submit` in, `ready()` out, persist, send, `advance(ready)`. See
raftnode/core/types.py for the Ready contract and docs/interfaces.md §4.

Client requests:
- writes are proposed as log entries on the leader and answered when applied; a
  follower forwards them to the leader (Message kind "forward") and relays the answer
  ("forward_resp"); no leader known means "unavailable";
- reads go through ReadIndex: once the leader's no-op of its term is committed it
  records the commit index, confirms leadership with a heartbeat round (context id),
  and answers once applied >= that index. No leases (unless the lease-read bug);
- a request not answered within request_timeout_ticks gets "timeout" (outcome unknown)
  if it was proposed or forwarded as a write, else "unavailable".
"""

from __future__ import annotations

import random
import secrets
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from raftnode.bugs import Bug
from raftnode.core.digest import command_digest
from raftnode.core.raft import LEADER, Raft
from raftnode.core.types import (
    ClientReply,
    ClientRequest,
    Message,
    NodeConfig,
    PersistentState,
    Ready,
    Snapshot,
)
from raftnode.kv import BadRequest, KVStateMachine, command_from_request

__all__ = ["NodeConfig", "NodeLogic", "command_digest"]


@dataclass
class _Proposal:
    """A write proposed by this leader at some index, awaiting its apply."""

    handle: str
    term: int
    deadline: int
    done: bool = False


@dataclass
class _Read:
    """A read waiting for ReadIndex: first the no-op commit, then a heartbeat round
    (ctx), then applied >= index."""

    handle: str
    key: str
    term: int
    deadline: int
    ctx: int = 0
    index: int = 0
    done: bool = False


@dataclass
class _Forward:
    handle: str
    is_read: bool
    deadline: int
    done: bool = False


@dataclass
class _Remote:
    """A request forwarded to us: reply goes back as a forward_resp message."""

    src: str
    fid: int
    boot: str


@dataclass
class _Deadlines:
    """Deadlines in insertion order (all share one timeout, so they are sorted)."""

    queue: deque[tuple[int, Any]] = field(default_factory=deque)

    def add(self, deadline: int, item: Any) -> None:
        self.queue.append((deadline, item))

    def expired(self, now: int) -> list[Any]:
        out = []
        while self.queue and self.queue[0][0] <= now:
            out.append(self.queue.popleft()[1])
        return out


def _request_to_json(req: ClientRequest) -> dict[str, Any]:
    return {
        "op": req.op,
        "key": req.key,
        "value": req.value,
        "client_id": req.client_id,
        "seq": req.seq,
        "extra": req.extra,
    }


class NodeLogic:
    """One raftnode's deterministic brain. Not thread-safe; call from one task."""

    def __init__(
        self,
        node_id: str,
        peers: list[str],
        config: NodeConfig,
        restored: PersistentState,
        boot: str | None = None,
    ) -> None:
        self.id = node_id
        self.cfg = config
        rng = random.Random(config.seed) if config.seed is not None else random.Random()
        self.raft = Raft(node_id, list(peers), config, restored, rng)
        self.kv = KVStateMachine(dedup=not config.has(Bug.DUP_APPLY))
        self.applied = 0
        if restored.snapshot is not None:
            self.kv.restore(restored.snapshot.data)
            self.applied = restored.snapshot.index
        self.ticks = 0
        self.wall_ns = 0
        self.proposals: dict[int, _Proposal] = {}
        self.reads: list[_Read] = []
        self.forwards: dict[int, _Forward] = {}
        self.remotes: dict[str, _Remote] = {}
        self._fid = 0
        # Forward ids are unique per process incarnation: (boot nonce, counter). The leader
        # remembers recent ones so a duplicated forward message is not proposed twice. The
        # nonce must differ across restarts even when `config.seed` is fixed (the harness
        # seeds every node): from the seeded rng, a restarted follower reused its previous
        # incarnation's (boot, fid) pairs, so the leader dropped its new forwards as
        # duplicates and answers meant for the old incarnation's requests were relayed to
        # the new one's clients. So it comes from the OS unless the caller (the simulation,
        # which wants reproducible runs) passes one.
        drawn = rng.getrandbits(48)  # still drawn: keeps seeded runs' timeouts as they were
        self._boot = boot if boot is not None else f"{drawn ^ secrets.randbits(48):012x}"
        self._seen_forwards: OrderedDict[tuple[str, str, int], None] = OrderedDict()
        self._deadlines = _Deadlines()
        self.replies: list[ClientReply] = []
        self.local_snapshot: Snapshot | None = None
        self.compact_to = 0
        self.raft.event(
            "start",
            last_index=self.raft.log.last_index(),
            last_term=self.raft.log.last_term(),
            commit=self.raft.commit,
            voted_for=self.raft.voted_for,  # the persisted vote it recovered (term: "term")
        )
        self._after()

    # ------------------------------------------------------------------ flags
    @property
    def no_fsync(self) -> bool:
        """The no-fsync bug: the runtime/sim must not make Ready data durable before sending."""
        return self.cfg.has(Bug.NO_FSYNC)

    @property
    def is_leader(self) -> bool:
        return self.raft.role == LEADER

    # ------------------------------------------------------------------ inputs
    def tick(self, wall_ns: int) -> None:
        self.ticks += 1
        self.wall_ns = wall_ns
        self.raft.tick(wall_ns)
        self._expire()
        self._after()

    def step(self, msg: Message) -> None:
        if msg.kind == "forward":
            self._on_forward(msg)
        elif msg.kind == "forward_resp":
            self._on_forward_resp(msg)
        else:
            self.raft.step(msg)
        self._after()

    def submit(self, req: ClientRequest) -> None:
        self._handle(req, req.handle, forwarded=False)
        self._after()

    # ------------------------------------------------------------------ outputs
    def has_ready(self) -> bool:
        return bool(
            self.replies or self.compact_to or self.local_snapshot or self.raft.has_output()
        )

    def ready(self) -> Ready:
        """Everything produced since the last ready(); see types.py for what to do with it."""
        raft = self.raft
        raft.flush()
        raft.open_round = None
        snapshot = raft.install or self.local_snapshot
        rd = Ready(
            hard_state=raft.take_hard_state(),
            entries=raft.take_unstable(),
            snapshot=snapshot,
            messages=raft.msgs,
            replies=self.replies,
            events=raft.events,
            compact_to=self.compact_to if raft.install is None else 0,
        )
        raft.msgs, raft.events, self.replies = [], [], []
        raft.install = None
        self.local_snapshot = None
        self.compact_to = 0
        return rd

    def advance(self, rd: Ready) -> None:
        """`rd` is durable and sent: the leader may now count its own copy."""
        self.raft.persisted(rd.entries, rd.snapshot)
        self._after()

    def status(self) -> dict[str, Any]:
        raft = self.raft
        peers: dict[str, Any] = {}
        for p in raft.others:
            pr = raft.progress.get(p)
            peers[p] = {"match": pr.match, "next": pr.next, "state": pr.state} if pr else {}
        return {
            "id": self.id,
            "role": raft.role,
            "term": raft.term,
            "leader": raft.leader,
            "commit_index": raft.commit,
            "last_log_index": raft.log.last_index(),
            "last_log_term": raft.log.last_term(),
            "applied_index": self.applied,
            "snapshot_index": raft.log.offset,
            "wall_clock_ns": self.wall_ns,
            "bugs": self.cfg.bugs.names(),
            "peers": peers,
        }

    # ------------------------------------------------------------------ replies
    def _reply(self, handle: str, result: dict[str, Any], index: int | None = None) -> None:
        reply = ClientReply(
            handle=handle,
            ok=bool(result.get("ok")),
            value=result.get("value"),
            error=result.get("error"),
            leader=result.get("leader", self.raft.leader),
            index=index,
            message=result.get("message"),
        )
        remote = self.remotes.pop(handle, None)
        if remote is None:
            self.replies.append(reply)
            return
        body = {
            "fid": remote.fid,
            "boot": remote.boot,
            "reply": {
                "ok": reply.ok,
                "value": reply.value,
                "error": reply.error,
                "leader": reply.leader,
                "index": reply.index,
                "message": reply.message,
            },
        }
        self.raft.send("forward_resp", remote.src, context=body)

    def _fail(self, handle: str, error: str, message: str | None = None) -> None:
        self._reply(handle, {"ok": False, "error": error, "message": message})

    # ------------------------------------------------------------------ requests
    def _handle(self, req: ClientRequest, handle: str, forwarded: bool) -> None:
        try:
            cmd = command_from_request(req)
        except BadRequest as exc:
            self._fail(handle, "bad-request", str(exc))
            return
        is_read = cmd["op"] == "read"
        if is_read and self._local_read_allowed():
            self._reply(handle, {"ok": True, "value": self.kv.read(cmd["key"])}, None)
            return
        if not self.is_leader:
            if forwarded or self.raft.leader is None:
                err = "not-leader" if self.raft.leader else "unavailable"
                self._fail(handle, err, "no leader known" if err == "unavailable" else None)
                return
            self._forward(req, handle, is_read)
            return
        if is_read:
            self._start_read(handle, cmd["key"])
        else:
            self._propose(handle, cmd)

    def _local_read_allowed(self) -> bool:
        if self.cfg.has(Bug.FOLLOWER_READ):
            return True
        if not self.is_leader:
            return False
        if self.cfg.has(Bug.STALE_READ):
            return True
        if self.cfg.has(Bug.LEASE_READ) and self.raft.committed_in_term():
            return self.raft.in_wall_lease()
        return False

    def _propose(self, handle: str, cmd: dict[str, Any]) -> None:
        early = self.kv.preview(cmd) if self.cfg.has(Bug.ACK_BEFORE_COMMIT) else None
        index = self.raft.propose(cmd)
        old = self.proposals.get(index)
        if old is not None and not old.done:
            # Our copy of its entry was truncated, but other nodes may still hold it and a
            # later leader may commit it (Raft figure 8): the outcome is unknown, not failed.
            old.done = True
            self._fail(old.handle, "timeout", "entry replaced in this log; outcome unknown")
        prop = _Proposal(handle, self.raft.term, self.ticks + self.cfg.request_timeout_ticks)
        self.proposals[index] = prop
        self._deadlines.add(prop.deadline, ("proposal", index, prop))
        if early is not None:
            prop.done = True
            self._reply(handle, early, index)

    def _start_read(self, handle: str, key: str) -> None:
        read = _Read(handle, key, self.raft.term, self.ticks + self.cfg.request_timeout_ticks)
        self.reads.append(read)
        self._deadlines.add(read.deadline, ("read", 0, read))

    def _forward(self, req: ClientRequest, handle: str, is_read: bool) -> None:
        self._fid += 1
        fwd = _Forward(handle, is_read, self.ticks + self.cfg.request_timeout_ticks)
        self.forwards[self._fid] = fwd
        self._deadlines.add(fwd.deadline, ("forward", self._fid, fwd))
        assert self.raft.leader is not None
        self.raft.send(
            "forward",
            self.raft.leader,
            context={"fid": self._fid, "boot": self._boot, "req": _request_to_json(req)},
        )

    def _on_forward(self, msg: Message) -> None:
        ctx = msg.context if isinstance(msg.context, dict) else {}
        body = ctx.get("req")
        fid = ctx.get("fid")
        if not isinstance(body, dict) or not isinstance(fid, int):
            return
        seen = (msg.src, str(ctx.get("boot")), fid)
        if seen in self._seen_forwards:
            return  # a duplicate of a forward we already took
        self._seen_forwards[seen] = None
        if len(self._seen_forwards) > 100_000:
            self._seen_forwards.popitem(last=False)
        handle = f"fwd/{msg.src}/{seen[1]}/{fid}"  # unique across the sender's restarts
        self.remotes[handle] = _Remote(msg.src, fid, seen[1])
        extra = body.get("extra")
        try:
            req = ClientRequest(
                handle=handle,
                op=str(body.get("op")),
                key=body.get("key"),
                value=body.get("value"),
                client_id=body.get("client_id"),
                seq=body.get("seq"),
                extra=extra if isinstance(extra, dict) else {},
            )
        except (TypeError, ValueError):
            self._fail(handle, "bad-request", "malformed forwarded request")
            return
        self._handle(req, handle, forwarded=True)

    def _on_forward_resp(self, msg: Message) -> None:
        ctx = msg.context if isinstance(msg.context, dict) else {}
        if ctx.get("boot") != self._boot or not isinstance(ctx.get("fid"), int):
            return  # an answer meant for an earlier incarnation of this node
        fwd = self.forwards.pop(ctx["fid"], None)
        body = ctx.get("reply")
        if fwd is None or fwd.done or not isinstance(body, dict):
            return
        fwd.done = True
        self.replies.append(
            ClientReply(
                handle=fwd.handle,
                ok=bool(body.get("ok")),
                value=body.get("value"),
                error=body.get("error"),
                leader=body.get("leader"),
                index=body.get("index"),
                message=body.get("message"),
            )
        )

    def _expire(self) -> None:
        for kind, key, item in self._deadlines.expired(self.ticks):
            if item.done:
                continue
            item.done = True
            if kind == "proposal":
                if self.proposals.get(key) is item:
                    del self.proposals[key]
                self._fail(item.handle, "timeout", "not applied in time; outcome unknown")
            elif kind == "read":
                self._fail(item.handle, "unavailable", "could not confirm leadership in time")
            else:
                self.forwards.pop(key, None)
                if item.is_read:
                    self._fail(item.handle, "unavailable", "leader did not answer in time")
                else:
                    self._fail(item.handle, "timeout", "leader did not answer in time")

    # ------------------------------------------------------------------ after every input
    def _after(self) -> None:
        raft = self.raft
        if raft.install is not None and self.applied < raft.install.index:
            self.kv.restore(raft.install.data)
            self.applied = raft.install.index
            self.local_snapshot = None
            self.compact_to = 0
        self._apply_committed()
        self._serve_reads()
        self._maybe_snapshot()

    def _apply_committed(self) -> None:
        raft = self.raft
        while self.applied < raft.commit:
            entry = raft.log.entry(self.applied + 1)
            if entry is None:
                break  # only possible after a planted truncation bug erased it
            self.applied = entry.index
            result = self.kv.apply(entry.command) if entry.command is not None else None
            raft.event(
                "apply",
                index=entry.index,
                entry_term=entry.term,
                digest=raft.take_digest(entry),
            )
            prop = self.proposals.pop(entry.index, None)
            if prop is None or prop.done:
                continue
            prop.done = True
            if prop.term == entry.term and result is not None:
                self._reply(prop.handle, result, entry.index)
            else:
                self._fail(prop.handle, "unavailable", "entry overwritten by a new leader")

    def _serve_reads(self) -> None:
        if not self.reads:
            return
        raft = self.raft
        if not self.is_leader:
            for r in self.reads:
                if not r.done:
                    r.done = True
                    err = "not-leader" if raft.leader else "unavailable"
                    self._fail(r.handle, err, "lost leadership")
            self.reads = []
            return
        confirmed = raft.confirmed_ctx()
        keep = []
        for r in self.reads:
            if r.done:
                continue
            if r.term != raft.term:
                r.done = True
                self._fail(r.handle, "unavailable", "lost leadership")
                continue
            if r.ctx == 0:
                if not raft.committed_in_term():
                    keep.append(r)
                    continue
                r.index = raft.commit
                r.ctx = raft.request_read_round()
                confirmed = raft.confirmed_ctx()
            if r.ctx <= confirmed and self.applied >= r.index:
                r.done = True
                self._reply(r.handle, {"ok": True, "value": self.kv.read(r.key)}, None)
                continue
            keep.append(r)
        self.reads = keep

    def _maybe_snapshot(self) -> None:
        raft = self.raft
        if raft.install is not None or self.local_snapshot is not None:
            return
        if self.applied - raft.log.offset < self.cfg.snapshot_every:
            return
        if self.applied > raft.stable_index:
            return  # snapshot only what is already durable in the log
        term = raft.log.term_at(self.applied)
        if term is None:
            return
        snap = Snapshot(self.applied, term, self.kv.snapshot(), tuple(raft.peers))
        raft.compact(snap)
        raft.event("snapshot", index=snap.index, entry_term=snap.term)
        self.local_snapshot = snap
        self.compact_to = snap.index
