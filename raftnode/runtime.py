"""The asyncio runtime: the only place where the I/O-free core meets clocks, disks and sockets.

One event loop owns the core: inputs (peer messages, client requests, ticks) are fed into
`NodeLogic` as they arrive, and a drain step takes its `Ready` batches. For each batch the
order the core requires holds: persist (write + fdatasync) → send the messages and replies
that depend on it → append events → `advance`.

Group commit and pipelining: persisting happens on one disk thread (`raftnode.diskwriter`),
which writes every batch queued since its last round and then fsyncs once. The loop does not
wait for it: it keeps reading sockets and taking new batches, and a FIFO holds each taken batch
until it *and every batch before it* is durable; only then are its late messages sent, its
events written and `advance` called, in order. So a leader replicates new entries while its
previous fsync is still running, and under load the fsync rate stays flat while the writes per
fsync grow. Leader appends and client replies, which depend on nothing unsynced, leave at
once (see `_take`)."""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import os
import random
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from raftnode.bugs import Bug, BugFlags
from raftnode.core.types import (
    ClientReply,
    ClientRequest,
    Message,
    NodeConfig,
    PersistentState,
    Ready,
)
from raftnode.diskdelay import DiskDelay
from raftnode.diskwriter import DiskWriter
from raftnode.eventlog import EventLog
from raftnode.http_api import Api
from raftnode.httpserver import HttpServer
from raftnode.netchaos import NetworkChaos
from raftnode.storage import Storage
from raftnode.transport import Transport

log = logging.getLogger("raftnode.runtime")

LAZY_FLUSH_S = 0.2
_LEADER_KINDS = frozenset(
    {"append", "snapshot"}
)  # no-fsync bug: how often buffered WAL bytes reach the OS


@dataclass
class NodeOptions:
    """Everything a node needs to run, already validated (see raftnode.cli)."""

    node_id: str
    peers: dict[str, tuple[str, int]]
    client: tuple[str, int]
    data_dir: Path
    bugs: BugFlags = BugFlags()  # names are accepted and parsed
    tick_ms: int = 10
    election_ms: int = 300
    heartbeat_ms: int = 50
    snapshot_every: int = 1000
    request_timeout_ms: int = 3000
    seed: int | None = None
    disk_thread: bool = True  # False: persist on the loop thread (see raftnode.cli --disk-thread)
    # The shared secret peers prove in the handshake (raftnode.transport); None: unauthenticated.
    cluster_token: bytes | None = field(default=None, repr=False)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.bugs = BugFlags.parse(self.bugs)

    def node_config(self) -> NodeConfig:
        """The core's tuning in ticks; raises ValueError if the timings do not fit together."""
        return NodeConfig(
            election_ticks=max(2, round(self.election_ms / self.tick_ms)),
            heartbeat_ticks=max(1, round(self.heartbeat_ms / self.tick_ms)),
            snapshot_every=self.snapshot_every,
            request_timeout_ticks=max(1, round(self.request_timeout_ms / self.tick_ms)),
            bugs=self.bugs,
            seed=self.seed,
            tick_ms=self.tick_ms,
        )


LogicFactory = Callable[[NodeOptions, PersistentState], Any]


def default_logic(opts: NodeOptions, restored: PersistentState) -> Any:
    from raftnode.core.node import NodeLogic

    return NodeLogic(opts.node_id, sorted(opts.peers), opts.node_config(), restored)


def _expire(fut: asyncio.Future[ClientReply], handle: str) -> None:
    if not fut.done():
        fut.set_result(ClientReply(handle=handle, ok=False, error="timeout"))


def _addr(host_port: tuple[str, int]) -> str:
    return f"{host_port[0]}:{host_port[1]}"


@dataclass
class _Batch:
    """A taken Ready whose late messages, events and advance() wait for durability."""

    rd: Ready
    late: list[Message]
    durable: bool


class Runtime:
    """Runs one raftnode until `stop()`; also the `NodeApi` the HTTP layer serves."""

    def __init__(self, opts: NodeOptions, logic_factory: LogicFactory = default_logic) -> None:
        self.opts = opts
        self.logic_factory = logic_factory
        self.storage: Storage | None = None
        self.logic: Any = None
        self.transport: Transport | None = None
        self.http: HttpServer | None = None
        self.events: EventLog | None = None
        self._waiting: dict[str, asyncio.Future[ClientReply]] = {}
        self._handles = itertools.count(1)
        self._drain_scheduled = False
        self._disk: DiskWriter | None = None
        self._fifo: deque[_Batch] = deque()  # taken Readies not yet advanced, in order
        self.fatal = False
        self._tasks: list[asyncio.Task[None]] = []
        self._stopped = asyncio.Event()
        # Pipeline counters, shown in /status as "io" (the benchmark reports writes per fsync).
        self.batches = 0  # Ready batches that touched the disk
        self.saved_entries = 0
        self.save_seconds = 0.0
        self.drains = 0
        # Slow-disk injection (POST /admin/disk): off until set; seeded like message chaos.
        self.disk_delay = DiskDelay()
        self._delay_rng = random.Random(f"{opts.seed}/{opts.node_id}/disk")
        self.delayed_rounds = 0

    # -- life cycle ----------------------------------------------------------------------

    def open_storage(self) -> PersistentState:
        """Open and load the data dir; raises StorageCorrupt before anything listens."""
        self.storage = Storage.open(self.opts.data_dir, fsync=not self.opts.bugs.has(Bug.NO_FSYNC))
        return self.storage.load()

    def _start_core(self) -> None:
        """The I/O-free core on its recovered state, the disk writer and the event log:
        what every runtime (TCP/HTTP here, stdin/stdout under Maelstrom) starts the same."""
        restored = self.open_storage() if self.storage is None else self.storage.state()
        self.logic = self.logic_factory(self.opts, restored)
        assert self.storage is not None
        # no-fsync only fills a buffer: no thread needed; without the disk thread each batch
        # is written and fsynced inline before its late messages leave (same order).
        if self.storage.fsync and self.opts.disk_thread:
            self._disk = DiskWriter(self.storage, asyncio.get_running_loop(), self._on_durable)
        self.events = EventLog(self.opts.data_dir / "events.jsonl", self.opts.node_id)
        # the core's first Ready carries its own "start" event (with last_index, commit)

    def _start_timers(self) -> None:
        """The tick loop and, under the no-fsync bug, the lazy flusher."""
        self._tasks.append(asyncio.create_task(self._ticker(), name="ticker"))
        if self.opts.bugs.has(Bug.NO_FSYNC):
            self._tasks.append(asyncio.create_task(self._lazy_flusher(), name="lazy-flush"))

    async def start(self) -> None:
        self._start_core()
        self.transport = Transport(
            self.opts.node_id,
            self.opts.peers,
            self.on_message,
            client_addr=self._client_addr(),
            token=self.opts.cluster_token,
            seed=self.opts.seed,
        )
        self.http = HttpServer(Api(self))
        await self.transport.start()
        await self.http.start(*self.opts.client)
        self._start_timers()
        log.info(
            "node %s up: peers %s, client %s, data %s, bugs %s, disk %s",
            self.opts.node_id,
            _addr(self.opts.peers[self.opts.node_id]),
            _addr(self.opts.client),
            self.opts.data_dir,
            ",".join(self.opts.bugs.names()) or "none",
            "thread" if self._disk else "inline",
        )
        self._schedule_drain()

    def _client_addr(self) -> str:
        host, port = self.opts.client
        if host in ("0.0.0.0", "::", ""):
            host = self.opts.peers[self.opts.node_id][0]
        return f"{host}:{port}"

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    def request_stop(self) -> None:
        self._stopped.set()

    async def stop(self) -> None:
        """Close everything, each step on its own: after a fatal error (a full disk, say)
        a step can fail again, and that must not keep the node from exiting. The caller
        (raftnode.cli) also bounds the whole stop in time."""
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2)
        for what, step in (("http", self.http), ("transport", self.transport)):
            if step is not None:
                try:
                    await step.close()
                except Exception as exc:
                    log.warning("stopping: closing %s failed: %s", what, exc)
        for fut in list(self._waiting.values()):
            if not fut.done():
                fut.set_result(ClientReply(handle="", ok=False, error="timeout"))
        if self._disk is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._disk.close, 5.0)
        for what, closer in (("storage", self.storage), ("events", self.events)):
            if closer is not None:
                try:
                    closer.close()
                except OSError as exc:  # e.g. the no-fsync buffer cannot be flushed
                    log.warning("stopping: closing %s failed: %s", what, exc)

    # -- inputs --------------------------------------------------------------------------

    def on_message(self, msg: Message) -> None:
        self.logic.step(msg)
        self._schedule_drain()

    def new_handle(self) -> str:
        return f"{self.opts.node_id}-{next(self._handles)}"

    def submit(self, req: ClientRequest) -> asyncio.Future[ClientReply]:
        """Feed a client request to the core; the future resolves with its reply (or
        `timeout` from a backstop timer, should the core never answer)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[ClientReply] = loop.create_future()
        self._waiting[req.handle] = fut
        self.logic.submit(req)
        self._schedule_drain()
        backstop = self.opts.request_timeout_ms / 1000 * 2 + 1
        timer = loop.call_later(backstop, _expire, fut, req.handle)
        fut.add_done_callback(functools.partial(self._forget, req.handle, timer))
        return fut

    def _forget(self, handle: str, timer: asyncio.TimerHandle, _fut: object) -> None:
        timer.cancel()
        self._waiting.pop(handle, None)

    async def _ticker(self) -> None:
        period = self.opts.tick_ms / 1000
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            next_at += period
            delay = next_at - loop.time()
            if delay < -10 * period:  # we were stopped (SIGSTOP) or starved: don't burst
                next_at = loop.time()
            await asyncio.sleep(max(0.0, delay))
            self.logic.tick(time.time_ns())
            self._schedule_drain()

    async def _lazy_flusher(self) -> None:
        while True:
            await asyncio.sleep(LAZY_FLUSH_S)
            assert self.storage is not None
            self.storage.flush()

    # -- the Ready pipeline --------------------------------------------------------------

    def _schedule_drain(self) -> None:
        if not self._drain_scheduled:
            self._drain_scheduled = True
            asyncio.get_running_loop().call_soon(self._drain)

    def _drain(self) -> None:
        self._drain_scheduled = False
        if self.fatal:
            return
        self.drains += 1
        try:
            while self.logic.has_ready():
                self._take(self.logic.ready())
        except Exception:
            self._die()

    def _take(self, rd: Ready) -> None:
        """Start one Ready through the pipeline.

        What depends on nothing unsynced leaves at once:
        - a leader's AppendEntries/InstallSnapshot (Raft thesis §10.2.1): they promise nothing
          about this node's disk; the core counts the leader's own copy only in advance(),
          i.e. once durable;
        - client replies: the core answers a write once it is committed (durable on a majority,
          this node counted only after advance()) and a read once applied; neither can depend
          on entries still being written.
        Everything else (votes, acknowledgements, forwards), the events and advance() wait until
        this batch *and every batch taken before it* is durable: a message without entries
        can still vouch for entries of an earlier batch (an append ack, say)."""
        assert self.transport is not None and self.storage is not None
        self._reply(rd.replies)
        early = [m for m in rd.messages if m.kind in _LEADER_KINDS]
        late = [m for m in rd.messages if m.kind not in _LEADER_KINDS] if early else rd.messages
        self.transport.send_many(early)
        disk = bool(rd.hard_state or rd.entries or rd.snapshot or rd.compact_to)
        if disk:
            self.batches += 1
            self.saved_entries += len(rd.entries)
        if self._disk is None:  # no-fsync or --disk-thread off: save inline
            if disk:
                t0 = time.perf_counter()
                if rd.hard_state is not None or rd.entries or rd.snapshot is not None:
                    self.storage.save(rd.hard_state, rd.entries, rd.snapshot)
                if rd.compact_to:
                    self.storage.compact(rd.compact_to)
                self.save_seconds += time.perf_counter() - t0
            if not self._fifo and not (disk and self.disk_delay.active):
                self._finish(rd, late)
                return
            # Queued behind a slowed batch (or slowed itself): completes in FIFO order.
            # Called from inside _drain, so nothing here may drain again (that would
            # recurse once per queued batch); _complete schedules the next drain.
            batch = _Batch(rd, late, durable=not disk)
            self._fifo.append(batch)
            if disk:
                self._durable_later([batch], drain=False)
            else:
                self._complete()
            return
        batch = _Batch(rd, late, durable=not disk)
        self._fifo.append(batch)
        if disk:
            self._disk.submit(rd, batch)
        else:
            self._complete()

    def _on_durable(
        self, batches: list[_Batch], seconds: float, error: BaseException | None
    ) -> None:
        """Called on the loop by the disk thread after a write round."""
        if error is not None:
            try:
                raise error
            except BaseException:
                self._die()
            return
        self.save_seconds += seconds
        self._durable_later(batches)

    def _durable_later(self, batches: list[_Batch], *, drain: bool = True) -> None:
        """Mark a written round durable, after the injected slow-disk latency if any.
        `drain`: take the core's next Readies right away (not when called from _take)."""
        delay = 0.0
        if self.disk_delay.active:  # the common case costs one attribute test
            leading = bool(getattr(self.logic, "is_leader", False))
            delay = self.disk_delay.draw_seconds(self._delay_rng, leading)
        if delay <= 0:
            self._mark_durable(batches, drain=drain)
            return
        self.delayed_rounds += 1
        asyncio.get_running_loop().call_later(delay, self._mark_durable, batches)

    def _mark_durable(self, batches: list[_Batch], *, drain: bool = True) -> None:
        for batch in batches:
            batch.durable = True
        try:
            self._complete()
        except Exception:
            self._die()
            return
        if drain:
            self._drain()

    def _complete(self) -> None:
        """Finish, in order, every batch at the head of the FIFO that is durable."""
        while self._fifo and self._fifo[0].durable:
            batch = self._fifo.popleft()
            self._finish(batch.rd, batch.late)
        self._schedule_drain()  # advance() may have produced more output

    def _die(self) -> None:
        """Fail-stop (called in an except block): a failure to persist must not be papered
        over, the node cannot keep its promises. The process then exits non-zero (cli)."""
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):  # a full or failed disk: the OS's words say it all
            log.error("fatal: cannot persist or log (%s); stopping", exc)
        else:
            log.exception("fatal error while handling a Ready batch; stopping")
        self.fatal = True
        self.request_stop()

    def _finish(self, rd: Ready, late: list[Message]) -> None:
        """After the batch is durable: acknowledgements out, events down, core told."""
        assert self.transport is not None and self.events is not None
        self.transport.send_many(late)
        self.events.write(rd.events)
        self.logic.advance(rd)

    def _reply(self, replies: list[ClientReply]) -> None:
        for reply in replies:
            fut = self._waiting.get(reply.handle)
            if fut is not None and not fut.done():
                fut.set_result(reply)

    # -- NodeApi -------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        st: dict[str, Any] = dict(self.logic.status())
        st.setdefault("id", self.opts.node_id)
        assert self.storage is not None
        st.update(
            wall_clock_ns=time.time_ns(),
            bugs=self.opts.bugs.names(),
            peers=self._peers_status(st.get("peers")),
            wal_path=str(self.storage.wal_path.resolve()),
            wal_synced_bytes=self.storage.synced_bytes,
            pid=os.getpid(),
            peer_auth="token" if self.opts.cluster_token else "none",
            io={
                "drains": self.drains,
                "batches": self.batches,
                "fsyncs": self._disk.fsyncs if self._disk else 0,
                "in_flight": len(self._fifo),
                "saved_entries": self.saved_entries,
                "save_seconds": round(self.save_seconds, 6),
            },
        )
        return st

    def _peers_status(self, progress: Any) -> dict[str, Any]:
        """Each member's peer address, merged with the core's replication progress."""
        out: dict[str, Any] = {}
        for name, addr in self.opts.peers.items():
            info = {"addr": _addr(addr)}
            if isinstance(progress, dict) and isinstance(progress.get(name), dict):
                info.update(progress[name])
            out[name] = info
        return out

    def partition(self) -> list[str]:
        assert self.transport is not None
        return sorted(self.transport.dropped)

    def set_partition(self, nodes: list[str]) -> None:
        assert self.transport is not None
        self.transport.set_dropped(n for n in nodes if n != self.opts.node_id)
        log.info("local partition: dropping traffic with %s", self.partition() or "nobody")

    def network(self) -> dict[str, Any]:
        """The message-chaos settings in force and what they did so far."""
        assert self.transport is not None
        return {**self.transport.chaos.to_json(), "counts": dict(self.transport.chaos_counts)}

    def set_network(self, chaos: NetworkChaos) -> None:
        assert self.transport is not None
        self.transport.set_chaos(chaos)
        log.info("message chaos: %s", chaos.to_json() if chaos.active else "off")

    def disk(self) -> dict[str, Any]:
        """The slow-disk settings in force and how many write rounds they delayed."""
        return {**self.disk_delay.to_json(), "delayed_rounds": self.delayed_rounds}

    def set_disk(self, delay: DiskDelay) -> None:
        self.disk_delay = delay
        log.info("slow disk: %s", delay.to_json() if delay.active else "off")

    def leader_client(self, leader: str | None) -> str | None:
        if leader is None:
            return None
        if leader == self.opts.node_id:
            return self._client_addr()
        assert self.transport is not None
        return self.transport.client_addrs.get(leader)
