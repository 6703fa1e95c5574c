"""Peer transport: asyncio TCP carrying length-prefixed JSON messages between raftnodes.

Each node listens on its own peer address and keeps one *outgoing* connection per peer, used
only for sending; it reads only on the connections peers open to it. So each direction of a
pair is one ordered byte stream with no request/response coupling, and a stalled peer can only
fill its own bounded queue. Messages are dropped (never block the node) when a queue is full,
the peer is down or partitioned: Raft is built to tolerate loss and retries on its own.

Frame: 4-byte big-endian length, then UTF-8 JSON. The first frame on a connection is a hello
``{"hello": node_id, "client": "host:port"}`` so the receiver knows who is talking and where
that node's client API is (for ``leader_client`` in not-leader errors). A malformed frame closes
that one connection only.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import struct
from collections.abc import Callable, Iterable
from typing import Any

from raftnode.core.types import Message

log = logging.getLogger("raftnode.transport")

LEN = struct.Struct(">I")
MAX_FRAME = 256 * 1024 * 1024
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


def parse_addr(text: str) -> tuple[str, int]:
    """'host:port' -> (host, port); ValueError with a readable message otherwise."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
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
                _, writer = await asyncio.wait_for(
                    asyncio.open_connection(*self.addr), CONNECT_TIMEOUT_S
                )
                writer.write(encode_frame(self.transport.hello()))
                self.connected = True
                backoff = BACKOFF_MIN_S
                while True:
                    frame = await self.queue.get()
                    chunks = [frame]
                    while not self.queue.empty() and len(chunks) < 512:
                        chunks.append(self.queue.get_nowait())
                    writer.write(b"".join(chunks))
                    await writer.drain()
            except (OSError, TimeoutError, ConnectionError) as exc:
                if self.connected:
                    log.info("connection to %s lost: %s", self.name, exc)
                    self._clear()  # what queued behind a dead link is stale by now
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
    ) -> None:
        self.node_id = node_id
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

    def hello(self) -> dict[str, Any]:
        return {"hello": self.node_id, "client": self.client_addr}

    async def start(self) -> None:
        host, port = self.listen_addr
        self._server = await asyncio.start_server(self._serve, host, port, reuse_address=True)
        for peer in self._peers.values():
            peer.task = asyncio.create_task(peer.run(), name=f"peer-{peer.name}")

    async def close(self) -> None:
        for peer in self._peers.values():
            if peer.task is not None:
                peer.task.cancel()
        for peer in self._peers.values():
            if peer.task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await peer.task
        if self._server is not None:
            self._server.close()
        for w in list(self._inbound):
            w.close()
        if self._inbound_tasks:  # let handlers see EOF and finish rather than be cancelled
            await asyncio.wait(list(self._inbound_tasks), timeout=2)

    def set_dropped(self, nodes: Iterable[str]) -> None:
        """The local-partition fault hook: drop all traffic to and from `nodes`."""
        self.dropped = frozenset(nodes)

    def send(self, msg: Message) -> None:
        """Queue `msg` for its destination; silently drop it when that cannot be done now."""
        peer = self._peers.get(msg.dst)
        if peer is None or msg.dst in self.dropped:
            self.lost += 1
            return
        try:
            peer.queue.put_nowait(encode_frame(message_dict(msg)))
            self.sent += 1
        except asyncio.QueueFull:
            self.lost += 1

    def send_many(self, msgs: Iterable[Message]) -> None:
        for msg in msgs:
            self.send(msg)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._inbound.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._inbound_tasks.add(task)
        src = None
        try:
            hello = await self._read_frame(reader)
            src = hello.get("hello") if isinstance(hello, dict) else None
            if src not in self._peers:
                raise ValueError(f"bad hello {str(hello)[:80]!r}")
            if hello.get("client"):
                self.client_addrs[src] = str(hello["client"])
            while True:
                obj = await self._read_frame(reader)
                msg = Message.from_json(obj)
                if msg.src != src or msg.dst != self.node_id:
                    raise ValueError(f"misaddressed message {msg.src}->{msg.dst} on {src}'s link")
                if src in self.dropped:
                    continue
                self.on_message(msg)
        except asyncio.IncompleteReadError:
            pass  # peer closed
        except (ConnectionError, OSError):
            pass
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            log.warning("closing peer connection from %s: malformed frame: %s", src or "?", exc)
        except Exception:
            log.exception("peer connection from %s failed", src or "?")
        finally:
            self._inbound.discard(writer)
            self._inbound_tasks.discard(task)  # type: ignore[arg-type]
            writer.close()

    async def _read_frame(self, reader: asyncio.StreamReader) -> Any:
        (length,) = LEN.unpack(await reader.readexactly(LEN.size))
        if length > MAX_FRAME:
            raise ValueError(f"frame of {length} bytes is over the limit")
        return json.loads(await reader.readexactly(length))
