"""The controller as the Maelstrom network: every message between nodes passes through it.

Each node's shim holds one TCP connection to the controller (a `Link`). A line a node
writes is parsed and routed: to another node (after the configured latency, unless a
partition cuts that pair — checked when sent and again when due, as a cut link also
loses what is in flight), or back to one of the controller's own clients (a reply to
an `rpc`). Nothing a node writes can stop the router: a line that is not a Maelstrom
message is logged, counted and skipped.

Why route in the controller rather than between the hosts: partitions become exact and
identical on every cluster kind (a dropped message is a decision, logged with a reason),
latency and reordering are reproducible from the seed, and the message log shows every
message with its fate, which is what one reads to understand a failing history.

Each link has a reader thread and a writer thread (a paused node must stall only its own
writer), plus one scheduler thread for delayed deliveries.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import queue
import random
import socket
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.dbs.maelstrom.protocol import Envelope, ProtocolError, encode, parse_line

log = logging.getLogger("splitbrain.maelstrom")

MAX_LINE = 64 * 1024 * 1024
GARBAGE_SAMPLES = 3
LEADER_WINDOW_S = 1.0
LATENCY_DISTS = ("constant", "uniform", "exponential")


@dataclass(frozen=True)
class Latency:
    """One-way delay of node-to-node messages: ``mean_ms`` with Maelstrom's distributions
    (uniform over [0, 2·mean], exponential with that mean). Anything but constant
    reorders messages between a pair, as Maelstrom's network does."""

    mean_ms: float = 0.0
    dist: str = "constant"

    def sample_s(self, rng: random.Random) -> float:
        mean = self.mean_ms / 1000.0
        if mean <= 0:
            return 0.0
        if self.dist == "uniform":
            return rng.uniform(0.0, 2 * mean)
        if self.dist == "exponential":
            return rng.expovariate(1.0 / mean)
        return mean


class MessageLog:
    """Every routed message as one JSON line, flushed as written (a crash keeps the prefix)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._file = open(path, "a", encoding="utf-8") if path is not None else None  # noqa: SIM115
        self._encode = json.JSONEncoder(separators=(",", ":"), default=repr).encode
        self.counts: Counter[str] = Counter()  # messages by fate, also without a file

    def write(self, fate: str, src: str, dest: str, body: Any, **extra: Any) -> None:
        self.counts[fate] += 1
        if self._file is None:
            return
        line = self._encode(
            {"t": time.time_ns(), "fate": fate, "src": src, "dest": dest, "body": body, **extra}
        )
        with self._lock:
            if self._file is not None:
                self._file.write(line + "\n")
                self._file.flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


@dataclass
class Link:
    """The controller's connection to one node's shim, for one life of the node."""

    node: str
    sock: socket.socket
    outbox: queue.SimpleQueue[bytes | None] = field(default_factory=queue.SimpleQueue)
    closed: threading.Event = field(default_factory=threading.Event)
    garbage: int = 0
    garbage_samples: list[str] = field(default_factory=list)
    ready: bool = False  # init_ok seen; before that a garbage line fails the start at once

    def send(self, line: bytes) -> bool:
        if self.closed.is_set():
            return False
        self.outbox.put(line)
        return True

    def close(self) -> None:
        self.outbox.put(None)
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


@dataclass
class _Pending:
    client: str
    node: str
    done: threading.Event = field(default_factory=threading.Event)
    reply: dict[str, Any] | None = None
    why: str = "timeout"


class MaelstromNetwork:
    """Routes messages between nodes and answers the controller's own client requests."""

    def __init__(
        self,
        nodes: list[str],
        *,
        latency: Latency = Latency(),
        seed: int = 0,
        log_path: Path | None = None,
    ) -> None:
        self.nodes = list(nodes)
        self.latency = latency
        self.rng = random.Random(f"maelstrom-net:{seed}")
        self.messages = MessageLog(log_path)
        self.stats = self.messages.counts
        self._links: dict[str, Link] = {}
        self._blocked: dict[str, frozenset[str]] = {}
        self._pending: dict[int, _Pending] = {}
        self._msg_ids = itertools.count(1)
        self._lock = threading.Lock()
        self._due: list[tuple[float, int, str, Envelope, bytes, int]] = []
        self._due_seq = itertools.count()
        self._wake = threading.Condition(self._lock)
        self._closing = False
        self._traffic: deque[tuple[float, str]] = deque()
        self._scheduler = threading.Thread(
            target=self._run_scheduler, name="maelstrom-net", daemon=True
        )
        self._scheduler.start()

    # -- links ----------------------------------------------------------------------
    def attach(self, node: str, sock: socket.socket) -> Link:
        """Start routing for a freshly connected node (replacing a previous life's link)."""
        link = Link(node, sock)
        with self._lock:
            old = self._links.get(node)
            self._links[node] = link
        if old is not None:
            old.close()
        threading.Thread(
            target=self._read, args=(link,), name=f"maelstrom-{node}-in", daemon=True
        ).start()
        threading.Thread(
            target=self._write, args=(link,), name=f"maelstrom-{node}-out", daemon=True
        ).start()
        return link

    def detach(self, node: str) -> None:
        with self._lock:
            link = self._links.pop(node, None)
        if link is not None:
            link.close()
            self._lost(link, "node was killed")

    def link(self, node: str) -> Link | None:
        with self._lock:
            return self._links.get(node)

    def _write(self, link: Link) -> None:
        while (line := link.outbox.get()) is not None:
            try:
                link.sock.sendall(line)
            except OSError:
                break
        link.closed.set()

    def _read(self, link: Link) -> None:
        stream = link.sock.makefile("rb")
        try:
            while not link.closed.is_set():
                try:
                    line = stream.readline(MAX_LINE)
                except OSError:
                    break
                if not line:
                    break
                if line.strip():
                    self._on_line(link, line)
        finally:
            link.closed.set()
            link.outbox.put(None)
            stream.close()
            link.sock.close()
            with self._lock:
                if self._links.get(link.node) is link:
                    del self._links[link.node]
            self._lost(link, "connection to the node closed (it exited or was killed)")

    def _lost(self, link: Link, why: str) -> None:
        """A node's life ended: its clients' outstanding requests get no reply."""
        with self._lock:
            waiting = [p for p in self._pending.values() if p.node == link.node]
        for pending in waiting:
            pending.why = why
            pending.done.set()

    # -- routing --------------------------------------------------------------------
    def _on_line(self, link: Link, line: bytes) -> None:
        try:
            env = parse_line(line)
        except ProtocolError as exc:
            self._garbage(link, line, str(exc))
            return
        if not line.endswith(b"\n"):
            line += b"\n"
        if env.dest in self.nodes:
            self._route(link.node, env, line)
        else:
            self._reply(link.node, env)

    def _garbage(self, link: Link, line: bytes, problem: str) -> None:
        text = line.decode("utf-8", errors="replace").rstrip("\n")
        link.garbage += 1
        if len(link.garbage_samples) < GARBAGE_SAMPLES:
            link.garbage_samples.append(text[:200])
        if link.garbage <= 5 or link.garbage % 100 == 0:
            log.warning(
                "maelstrom %s: skipped a stdout line that is not a Maelstrom message (%s; %d so far): %.200r",
                link.node, problem, link.garbage, text,
            )  # fmt: skip
        self.messages.write("garbage", link.node, "", None, line=text[:1000], problem=problem)
        if not link.ready:
            self._lost(link, "garbage on stdout before init_ok")

    def _cut(self, a: str, b: str) -> bool:
        return b in self._blocked.get(a, ()) or a in self._blocked.get(b, ())

    def _route(self, src: str, env: Envelope, line: bytes) -> None:
        sent = time.time_ns()
        with self._lock:
            if self._cut(src, env.dest):
                cut = True
            else:
                cut = False
                delay = self.latency.sample_s(self.rng)
                if delay > 0:
                    due = time.monotonic() + delay
                    heapq.heappush(self._due, (due, next(self._due_seq), src, env, line, sent))
                    self._wake.notify()
                    return
        if cut:
            self.messages.write("dropped-partition", src, env.dest, env.body)
            return
        self._deliver(src, env, line, sent)

    def _deliver(self, src: str, env: Envelope, line: bytes, sent: int) -> None:
        with self._lock:
            cut = self._cut(src, env.dest)
            link = self._links.get(env.dest)
            if not cut and link is not None:
                self._traffic.append((time.monotonic(), src))
        if cut:
            fate = "dropped-partition"
        elif link is None or not link.send(line):
            fate = "dropped-down"
        else:
            fate = "delivered"
        extra = {"sent": sent} if fate == "delivered" and time.time_ns() - sent > 1_000_000 else {}
        self.messages.write(fate, src, env.dest, env.body, **extra)

    def _run_scheduler(self) -> None:
        while True:
            with self._lock:
                while not self._closing and (not self._due or self._due[0][0] > time.monotonic()):
                    timeout = self._due[0][0] - time.monotonic() if self._due else None
                    self._wake.wait(timeout)
                if self._closing:
                    return
                _, _, src, env, line, sent = heapq.heappop(self._due)
            self._deliver(src, env, line, sent)

    def _reply(self, node: str, env: Envelope) -> None:
        with self._lock:
            pending = self._pending.get(env.in_reply_to) if env.in_reply_to is not None else None
            if pending is not None and pending.client != env.dest:
                pending = None
        if pending is None:
            self.messages.write("unmatched-reply", node, env.dest, env.body)
            return
        self.messages.write("reply", node, env.dest, env.body)
        pending.reply = env.body
        pending.done.set()

    # -- the controller's own requests ----------------------------------------------
    def rpc(
        self, client: str, node: str, body: dict[str, Any], timeout: float
    ) -> tuple[dict[str, Any] | None, str]:
        """Send `body` from `client` to `node` and wait for the reply; (None, why) if none
        came (why: "timeout", "not connected" — nothing was sent — or the link was lost)."""
        msg_id = next(self._msg_ids)
        body = {**body, "msg_id": msg_id}
        pending = _Pending(client, node)
        with self._lock:
            link = self._links.get(node)
            if link is None:
                return None, "not connected"
            self._pending[msg_id] = pending
        try:
            self.messages.write("request", client, node, body)
            if not link.send(encode(client, node, body)):
                return None, "not connected"
            pending.done.wait(timeout)
            return pending.reply, pending.why
        finally:
            with self._lock:
                self._pending.pop(msg_id, None)

    # -- partitions and observations ------------------------------------------------
    def block_peers(self, node: str, peers: list[str]) -> None:
        with self._lock:
            self._blocked[node] = frozenset(p for p in peers if p != node)
        log.info("maelstrom network: %s cut off from %s", node, sorted(peers) or "nobody")

    def inferred_leader(self) -> str | None:
        """The node that sent clearly the most delivered messages in the last second.

        The protocol has no status call, but a Raft-style leader is the one node that
        keeps talking to all the others (heartbeats); followers mostly answer it. None
        when no node stands out (no leader, or a protocol without one)."""
        horizon = time.monotonic() - LEADER_WINDOW_S
        with self._lock:
            while self._traffic and self._traffic[0][0] < horizon:
                self._traffic.popleft()
            counts = Counter(src for _, src in self._traffic)
        ranked = counts.most_common(2)
        if not ranked or ranked[0][1] < 3:
            return None
        if len(ranked) > 1 and ranked[0][1] < 1.5 * ranked[1][1]:
            return None
        return ranked[0][0]

    def close(self) -> None:
        """Stop routing: close every link, log what was still in flight, close the log."""
        with self._lock:
            self._closing = True
            self._wake.notify_all()
            links = list(self._links.values())
            self._links.clear()
            left = list(self._due)
            self._due.clear()
        for link in links:
            link.close()
        for _, _, src, env, _, _ in left:
            self.messages.write("undelivered", src, env.dest, env.body)
        self._scheduler.join(2.0)
        self.messages.close()
        summary = ", ".join(f"{fate} {n}" for fate, n in sorted(self.stats.items())) or "nothing"
        where = f" (every message: {self.messages.path})" if self.messages.path else ""
        level = logging.WARNING if self.stats["garbage"] else logging.INFO
        log.log(level, "maelstrom network: %s%s", summary, where)
