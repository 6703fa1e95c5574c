"""Peer transport: asyncio TCP carrying length-prefixed JSON messages between raftnodes.

Each node listens on its own peer address and keeps one *outgoing* connection per peer, used
only for sending; it reads only on the connections peers open to it. So each direction of a
pair is one ordered byte stream with no request/response coupling, and a stalled peer can only
fill its own bounded queue. Messages are dropped (never block the node) when a queue is full,
the peer is down or partitioned: Raft is built to tolerate loss and retries on its own.

Frame: 4-byte big-endian length, then UTF-8 JSON. Every connection starts with a handshake
that proves both ends hold the cluster token (a shared secret), with a fresh nonce from each
side so that a recorded handshake cannot be replayed:

1. dialer → listener ``{"hello": dialer_id, "nonce": n_d}``
2. listener → dialer ``{"nonce": n_l, "proof": HMAC(token, listener-role, ids, n_d, n_l)}``
3. dialer → listener ``{"proof": HMAC(token, dialer-role, ids, n_d, n_l, client), "client":
   "host:port"}`` (where the dialer's client API is, for ``leader_client``).

Until step 3 checks out, frames are limited to `MAX_HELLO_FRAME` bytes (a length prefix is
refused before anything is allocated) and the whole handshake to `HANDSHAKE_TIMEOUT_S`; any
other frame, a wrong proof or an unknown id closes the connection, nothing is delivered. The
token authenticates, it does not encrypt: anyone on the path can read the traffic, and the
client port (HTTP) is not covered (docs/raftnode.md, "Peer transport"). A node without a token
runs the same handshake with an empty key, which anyone can compute: it works for hand-run
clusters and logs a warning that its peer port is unauthenticated. A malformed frame after the
handshake closes that one connection only.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
import logging
import random
import secrets
import struct
import time
from collections.abc import Callable, Iterable
from typing import Any

from raftnode.core.types import Message
from raftnode.netchaos import NetworkChaos

log = logging.getLogger("raftnode.transport")

LEN = struct.Struct(">I")
MAX_FRAME = 256 * 1024 * 1024  # after the handshake (an InstallSnapshot can be big)
MAX_HELLO_FRAME = 4 * 1024  # before it: nobody unauthenticated makes us allocate more
HANDSHAKE_TIMEOUT_S = 5.0
WARN_EVERY_S = 10.0  # refused connections are logged at most this often per source
QUEUE_MAX = 8192
BACKOFF_MIN_S = 0.02
BACKOFF_MAX_S = 0.5
CONNECT_TIMEOUT_S = 2.0


def _default(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"cannot encode {type(obj).__name__}")


_MESSAGE_FIELDS = tuple(f.name for f in dataclasses.fields(Message))


def message_dict(msg: Message) -> dict[str, Any]:
    """`Message.to_json()` without `dataclasses.asdict`'s deep copy (the hot path)."""
    out = {name: getattr(msg, name) for name in _MESSAGE_FIELDS}
    out["entries"] = [e.to_json() for e in msg.entries]
    out["snapshot"] = msg.snapshot.to_json() if msg.snapshot else None
    return out


def encode_frame(obj: Any) -> bytes:
    body = json.dumps(obj, separators=(",", ":"), default=_default).encode()
    return LEN.pack(len(body)) + body


class HandshakeError(ValueError):
    """The other end did not prove it holds the cluster token (or spoke another protocol)."""


def handshake_proof(
    token: bytes, role: str, dialer: str, listener: str, dialer_nonce: str, listener_nonce: str,
    client: str = "",
) -> str:  # fmt: skip
    """The HMAC-SHA256 one side of a peer handshake sends. `role` ("listener" or "dialer")
    keeps one side's proof from being reflected as the other's; the JSON list keeps the
    fields unambiguous whatever the ids contain."""
    text = json.dumps(
        ["raftnode-peer-v1", role, dialer, listener, dialer_nonce, listener_nonce, client]
    )
    return hmac.new(token, text.encode(), hashlib.sha256).hexdigest()


def _nonce(obj: Any) -> str | None:
    """The nonce in a handshake frame, if it carries a plausible one (16..128 chars)."""
    nonce = obj.get("nonce") if isinstance(obj, dict) else None
    return nonce if isinstance(nonce, str) and 16 <= len(nonce) <= 128 else None


def _check_proof(got: Any, want: str, who: str) -> None:
    if not isinstance(got, str) or not hmac.compare_digest(got.encode(), want.encode()):
        raise HandshakeError(f"{who} did not prove the cluster token (tokens differ?)")


async def read_frame(reader: asyncio.StreamReader, limit: int = MAX_FRAME) -> Any:
    """One frame's JSON; ValueError for a length over `limit`, checked before reading it."""
    (length,) = LEN.unpack(await reader.readexactly(LEN.size))
    if length > limit:
        raise ValueError(f"frame of {length} bytes is over the limit of {limit}")
    return json.loads(await reader.readexactly(length))


class _RateLimitedLog:
    """Warn about the same source at most every WARN_EVERY_S (a port scanner, a peer with the
    wrong token retrying twice a second, must not flood the node's log)."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self._skipped: dict[str, int] = {}

    def warning(self, key: str, text: str, *args: Any) -> None:
        now = time.monotonic()
        if now - self._last.get(key, -WARN_EVERY_S) < WARN_EVERY_S:
            self._skipped[key] = self._skipped.get(key, 0) + 1
            return
        skipped = self._skipped.pop(key, 0)
        if len(self._last) >= 1024:  # bounded, whoever connects
            self._last, self._skipped = {}, {}
        self._last[key] = now
        suffix = f" ({skipped} more like it not logged)" if skipped else ""
        log.warning(text + suffix, *args)


def parse_addr(text: str) -> tuple[str, int]:
    """'host:port' -> (host, port); ValueError with a readable message otherwise."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
        raise ValueError(f"bad address {text!r} (want HOST:PORT)")
    return host.strip("[]"), int(port)


class _Peer:
    """The sending side towards one peer: a bounded queue drained by one connection task."""

    def __init__(self, transport: Transport, name: str, addr: tuple[str, int]) -> None:
        self.transport = transport
        self.name = name
        self.addr = addr
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(QUEUE_MAX)
        self.connected = False
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        backoff = BACKOFF_MIN_S
        while True:
            writer = None
            try:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that
                # lands as the connection completes, and close() then waited for ever.
                async with asyncio.timeout(CONNECT_TIMEOUT_S):
                    reader, writer = await asyncio.open_connection(*self.addr)
                async with asyncio.timeout(HANDSHAKE_TIMEOUT_S):
                    await self.transport.dial_handshake(self.name, reader, writer)
                self.connected = True
                backoff = BACKOFF_MIN_S
                while True:
                    frame = await self.queue.get()
                    chunks = [frame]
                    while not self.queue.empty() and len(chunks) < 512:
                        chunks.append(self.queue.get_nowait())
                    writer.write(b"".join(chunks))
                    await writer.drain()
            except HandshakeError as exc:
                self.transport.refusals.warning(
                    f"dial:{self.name}", "peer %s at %s:%d refused: %s", self.name, *self.addr, exc
                )
            except (OSError, TimeoutError, ConnectionError, asyncio.IncompleteReadError) as exc:
                if self.connected:
                    log.info("connection to %s lost: %s", self.name, exc)
                    self._clear()  # what queued behind a dead link is stale by now
            except ValueError as exc:  # a malformed handshake frame from whatever answered
                self.transport.refusals.warning(
                    f"dial:{self.name}",
                    "peer %s at %s:%d: bad handshake: %s",
                    self.name,
                    *self.addr,
                    exc,
                )
            finally:
                self.connected = False
                if writer is not None:
                    writer.close()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX_S)

    def _clear(self) -> None:
        while not self.queue.empty():
            self.queue.get_nowait()


class Transport:
    """Sends `Message`s to peers and hands received ones to `on_message`."""

    def __init__(
        self,
        node_id: str,
        peers: dict[str, tuple[str, int]],
        on_message: Callable[[Message], None],
        *,
        client_addr: str = "",
        token: bytes | None = None,
        seed: int | None = None,
    ) -> None:
        self.node_id = node_id
        self.token = token or b""  # empty: the handshake still runs, anyone can pass it
        self.authenticated = bool(token)
        self.refusals = _RateLimitedLog()
        self.listen_addr = peers[node_id]
        self.on_message = on_message
        self.client_addr = client_addr
        self._peers = {n: _Peer(self, n, a) for n, a in peers.items() if n != node_id}
        self._server: asyncio.Server | None = None
        self._inbound: set[asyncio.StreamWriter] = set()
        self._inbound_tasks: set[asyncio.Task[Any]] = set()
        self.dropped: frozenset[str] = frozenset()
        self.client_addrs: dict[str, str] = {}
        self.sent = 0
        self.lost = 0
        # Message chaos (POST /admin/network): off until set; seeded so a run can be replayed
        # as far as timing allows (the draws depend only on the order of sends).
        self.chaos = NetworkChaos()
        self._chaos_rng = random.Random(f"{seed}/{node_id}/chaos")
        self.chaos_counts = {"dropped": 0, "duplicated": 0, "delayed": 0, "reordered": 0}

    async def dial_handshake(
        self, peer: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Our side of the handshake on a connection we opened to `peer` (module docstring)."""
        mine = secrets.token_hex(16)
        writer.write(encode_frame({"hello": self.node_id, "nonce": mine}))
        answer = await read_frame(reader, MAX_HELLO_FRAME)
        theirs = _nonce(answer)
        if theirs is None:
            raise HandshakeError(f"no challenge in its answer {str(answer)[:80]!r}")
        want = handshake_proof(self.token, "listener", self.node_id, peer, mine, theirs)
        _check_proof(answer.get("proof"), want, peer)
        proof = handshake_proof(
            self.token, "dialer", self.node_id, peer, mine, theirs, self.client_addr
        )
        writer.write(encode_frame({"proof": proof, "client": self.client_addr}))
        await writer.drain()

    async def _accept_handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> str:
        """The listener's side: returns the authenticated peer id, or raises."""
        hello = await read_frame(reader, MAX_HELLO_FRAME)
        src = hello.get("hello") if isinstance(hello, dict) else None
        theirs = _nonce(hello)
        if src not in self._peers:
            raise HandshakeError(f"bad hello {str(hello)[:80]!r} (not a member)")
        if theirs is None:
            raise HandshakeError(f"hello from {src!r} without a nonce (not a raftnode peer?)")
        mine = secrets.token_hex(16)
        proof = handshake_proof(self.token, "listener", src, self.node_id, theirs, mine)
        writer.write(encode_frame({"nonce": mine, "proof": proof}))
        await writer.drain()
        reply = await read_frame(reader, MAX_HELLO_FRAME)
        client = reply.get("client", "") if isinstance(reply, dict) else None
        if not isinstance(client, str):
            raise HandshakeError(f"bad handshake reply from {src!r}")
        want = handshake_proof(self.token, "dialer", src, self.node_id, theirs, mine, client)
        _check_proof(reply.get("proof"), want, repr(src))  # type: ignore[union-attr]
        if client:
            self.client_addrs[src] = client
        return src

    async def start(self) -> None:
        host, port = self.listen_addr
        self._server = await asyncio.start_server(self._serve, host, port, reuse_address=True)
        if not self.authenticated:
            log.warning(
                "peer port %s:%d is UNAUTHENTICATED (no --cluster-token or "
                "--cluster-token-file): any process that can reach it can forge Raft "
                "messages and corrupt this cluster; see docs/raftnode.md",
                host,
                port,
            )
        for peer in self._peers.values():
            peer.task = asyncio.create_task(peer.run(), name=f"peer-{peer.name}")

    async def close(self) -> None:
        tasks = [peer.task for peer in self._peers.values() if peer.task is not None]
        for task in tasks:
            task.cancel()
        if tasks:  # bounded: a task that ignored its cancel must not hold the node up
            await asyncio.wait(tasks, timeout=2)
        if self._server is not None:
            self._server.close()
        for w in list(self._inbound):
            w.close()
        if self._inbound_tasks:  # let handlers see EOF and finish rather than be cancelled
            await asyncio.wait(list(self._inbound_tasks), timeout=2)

    def set_dropped(self, nodes: Iterable[str]) -> None:
        """The local-partition fault hook: drop all traffic to and from `nodes`."""
        self.dropped = frozenset(nodes)

    def set_chaos(self, chaos: NetworkChaos) -> None:
        """The message-chaos fault hook: shape every message sent from now on."""
        self.chaos = chaos

    def send(self, msg: Message) -> None:
        """Queue `msg` for its destination; silently drop it when that cannot be done now."""
        peer = self._peers.get(msg.dst)
        if peer is None or msg.dst in self.dropped:
            self.lost += 1
            return
        frame = encode_frame(message_dict(msg))
        chaos = self.chaos
        if chaos.active and chaos.applies_to(msg.dst):
            self._send_shaped(peer, frame, chaos)
            return
        self._enqueue(peer, frame)

    def _enqueue(self, peer: _Peer, frame: bytes) -> None:
        if peer.name in self.dropped:  # a delayed message whose link was cut meanwhile
            self.lost += 1
            return
        try:
            peer.queue.put_nowait(frame)
            self.sent += 1
        except asyncio.QueueFull:
            self.lost += 1

    def _send_shaped(self, peer: _Peer, frame: bytes, chaos: NetworkChaos) -> None:
        """Drop, duplicate, delay or reorder one message as `chaos` draws it. A delayed copy
        is queued later by the loop; a reordered one waits a random time up to
        reorder_ms, so messages sent after it overtake it."""
        rng = self._chaos_rng
        if rng.random() < chaos.drop:
            self.chaos_counts["dropped"] += 1
            self.lost += 1
            return
        copies = 2 if rng.random() < chaos.duplicate else 1
        if copies == 2:
            self.chaos_counts["duplicated"] += 1
        for _ in range(copies):
            wait = 0.0
            if rng.random() < chaos.delay:
                self.chaos_counts["delayed"] += 1
                wait = chaos.delay_ms / 1000.0
            if rng.random() < chaos.reorder:
                self.chaos_counts["reordered"] += 1
                wait += rng.uniform(0.0, chaos.reorder_ms / 1000.0)
            if wait <= 0.0:
                self._enqueue(peer, frame)
            else:
                asyncio.get_running_loop().call_later(wait, self._enqueue, peer, frame)

    def send_many(self, msgs: Iterable[Message]) -> None:
        for msg in msgs:
            self.send(msg)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._inbound.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._inbound_tasks.add(task)
        src = None
        remote, source = _remote(writer)  # source: the host, what refusals are counted by
        try:
            async with asyncio.timeout(HANDSHAKE_TIMEOUT_S):
                src = await self._accept_handshake(reader, writer)
            while True:
                obj = await read_frame(reader)
                msg = Message.from_json(obj)
                if msg.src != src or msg.dst != self.node_id:
                    raise ValueError(f"misaddressed message {msg.src}->{msg.dst} on {src}'s link")
                if src in self.dropped:
                    continue
                self.on_message(msg)
        except asyncio.IncompleteReadError:
            pass  # peer closed
        except (HandshakeError, TimeoutError) as exc:  # before OSError: TimeoutError is one
            why = exc if isinstance(exc, HandshakeError) else "handshake timed out"
            self.refusals.warning(source, "refused peer connection from %s: %s", remote, why)
        except (ConnectionError, OSError):
            pass
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            if src is None:
                self.refusals.warning(
                    source, "refused peer connection from %s: bad handshake: %s", remote, exc
                )
            else:
                log.warning("closing peer connection from %s: malformed frame: %s", src, exc)
        except Exception:
            log.exception("peer connection from %s failed", src or remote)
        finally:
            self._inbound.discard(writer)
            self._inbound_tasks.discard(task)  # type: ignore[arg-type]
            writer.close()


def _remote(writer: asyncio.StreamWriter) -> tuple[str, str]:
    """("host:port", "host") of the connection's other end."""
    peer = writer.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}", str(peer[0])
    return "?", "?"
