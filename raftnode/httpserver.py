"""A small, strict HTTP/1.1 server on asyncio streams (stdlib only: raftnode runs on bare hosts).

It supports exactly what a JSON API needs: Content-Length bodies, keep-alive and pipelining
(requests on one connection are answered in order), ``Expect: 100-continue`` (curl sends it for
bodies over 1 KiB), and hard limits on header and body size. Anything else — garbage, chunked
bodies, oversized headers, a Content-Length that is not plain ASCII digits or is given twice —
gets a 4xx/5xx JSON answer and the connection is closed; a bad client can never take the node
down, because every failure is confined to its connection.

Flow control: a connection may have at most `MAX_PIPELINED` answers owed or waiting to be
written, and its socket's write buffer must stay under asyncio's high-water mark; past either,
the server stops reading that connection (``pause_reading``, so TCP pushes back on the client)
until its answers drain. A client that pipelines without reading its replies therefore costs a
bounded amount of memory, and one whose replies have been stuck unread for the idle timeout is
dropped. Responses are standard JSON (``allow_nan=False``).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("raftnode.http")

MAX_HEADER_BYTES = 16 * 1024
MAX_BODY_BYTES = 1024 * 1024
MAX_PIPELINED = 64  # answers owed to one connection before it is read no further
# A connection that sends nothing and waits for nothing this long is closed, so idle or
# half-sent requests from a garbage client cannot hold file descriptors forever.
IDLE_TIMEOUT_S = 120.0

REASONS = {
    100: "Continue",
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    411: "Length Required",
    413: "Payload Too Large",
    421: "Misdirected Request",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    505: "HTTP Version Not Supported",
}


@dataclass
class Request:
    method: str
    path: str
    version: str
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class Response:
    status: int
    body: Any = None  # JSON-serialisable
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Response | Awaitable[Response]]


class HttpError(Exception):
    """A request that cannot be served; answered with `status` and the connection closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": code, "message": message}


def encode_response(resp: Response, *, keep_alive: bool) -> bytes:
    try:
        body = json.dumps(resp.body, separators=(",", ":"), allow_nan=False).encode() + b"\n"
    except (TypeError, ValueError, RecursionError) as exc:  # never send non-standard JSON
        log.error("cannot encode a %d response as standard JSON: %s", resp.status, exc)
        resp = Response(500, error_body("internal", "response is not representable as JSON"))
        body = json.dumps(resp.body, separators=(",", ":")).encode() + b"\n"
    reason = REASONS.get(resp.status, "Unknown")
    head = [
        f"HTTP/1.1 {resp.status} {reason}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "Connection: keep-alive" if keep_alive else "Connection: close",
    ]
    head.extend(f"{k}: {v}" for k, v in resp.headers.items())
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def parse_head(raw: bytes) -> Request:
    """Parse the request line and headers (everything before the blank line)."""
    try:
        text = raw.decode("latin-1")
    except UnicodeDecodeError as exc:  # pragma: no cover - latin-1 decodes any byte
        raise HttpError(400, "undecodable request head") from exc
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[0].isalpha() or not parts[1].startswith("/"):
        raise HttpError(400, "malformed request line")
    method, path, version = parts
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise HttpError(505, f"unsupported protocol version {version[:20]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip() or " " in name:
            raise HttpError(400, "malformed header line")
        key = name.lower()
        if key in _SINGLE_HEADERS and key in headers:  # which one frames the body? refuse
            raise HttpError(400, f"duplicate {name} header")
        headers[key] = value.strip()
    return Request(method=method.upper(), path=path, version=version, headers=headers)


# Headers that decide how the body is framed: given twice, two parsers may disagree on
# where the request ends (request smuggling), so they must appear at most once.
_SINGLE_HEADERS = frozenset({"content-length", "transfer-encoding"})


def _content_length(req: Request) -> int:
    if "transfer-encoding" in req.headers:
        raise HttpError(501, "chunked bodies are not supported; send Content-Length")
    raw = req.headers.get("content-length")
    if raw is None:
        return 0
    # str.isdigit() also accepts "²" or "٣", which int() then rejects (that was a 500)
    if not (raw.isascii() and raw.isdigit()):
        raise HttpError(400, "bad Content-Length (want ASCII digits)")
    if len(raw) > 18:
        raise HttpError(413, f"Content-Length over the body limit of {MAX_BODY_BYTES} bytes")
    length = int(raw)
    if length > MAX_BODY_BYTES:
        raise HttpError(413, f"body larger than {MAX_BODY_BYTES} bytes")
    return length


def _wants_keep_alive(req: Request) -> bool:
    conn = req.headers.get("connection", "").lower()
    if req.version == "HTTP/1.0":
        return conn == "keep-alive"
    return conn != "close"


class _Slot:
    """One request's place in a connection's response order (pipelining answers in order)."""

    __slots__ = ("data", "close")

    def __init__(self) -> None:
        self.data: bytes | None = None
        self.close = False


class _Connection(asyncio.Protocol):
    """One client connection: parses requests straight out of `data_received` and answers them
    in order. A Protocol rather than streams because it costs no task wake-ups per request:
    at thousands of requests a second that is a large share of the node's CPU."""

    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.pending_req: Request | None = None  # head parsed, waiting for the body
        self.need = 0
        self.slots: deque[_Slot] = deque()
        self.done = False  # no more requests will be read (error or Connection: close)
        self.eof = False
        self.read_paused = False  # flow control: too many answers owed (module docstring)
        self.write_paused_at: float | None = None  # loop time the write buffer filled up
        self.parsing = False

    # -- asyncio callbacks -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server._conns.add(self)
        self.loop = asyncio.get_running_loop()
        self.last_active = self.loop.time()
        self.idle_timer = self.loop.call_later(self.server.idle_timeout_s, self._idle_check)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server._conns.discard(self)
        self.done = True
        self.transport = None
        self.idle_timer.cancel()

    def _idle_check(self) -> None:
        """Close after idle_timeout_s without bytes in and with no answer owed, or with
        answers stuck unread that long; a timer per connection, re-armed at most once per
        period rather than on every request."""
        if self.transport is None:
            return
        stuck = self.write_paused_at
        if stuck is not None and self.loop.time() - stuck >= self.server.idle_timeout_s:
            self.transport.abort()  # the client stopped reading its answers long ago
            return
        quiet_until = self.last_active + self.server.idle_timeout_s
        if self.slots or self.loop.time() < quiet_until:
            delay = max(quiet_until - self.loop.time(), 0.05)
            self.idle_timer = self.loop.call_later(delay, self._idle_check)
            return
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        self.last_active = self.loop.time()
        if self.done:
            return
        self.buf += data
        self._parse_safely()

    def pause_writing(self) -> None:
        self.write_paused_at = self.loop.time()

    def resume_writing(self) -> None:
        self.write_paused_at = None
        self._maybe_resume()

    def _parse_safely(self) -> None:
        self.parsing = True
        try:
            self._parse()
        except Exception:  # never let one connection take the node down
            log.exception("http connection failed")
            self._fail(HttpError(500, "internal error"))
        finally:
            self.parsing = False

    # -- flow control ----------------------------------------------------------------------

    def _backlogged(self) -> bool:
        return len(self.slots) >= MAX_PIPELINED or self.write_paused_at is not None

    def _maybe_resume(self) -> None:
        """Read again once the answers owed drained; then parse what was already buffered."""
        if not self.read_paused or self._backlogged() or self.transport is None:
            return
        self.read_paused = False
        if not self.done:
            self.transport.resume_reading()
        if not self.parsing:
            self._parse_safely()

    def eof_received(self) -> bool:
        self.eof = True
        if not self.done and self.pending_req is None and bytes(self.buf).strip():
            self._fail(HttpError(400, "incomplete request head"))
        self.done = True
        self._flush()
        return True  # keep the socket open until queued answers are written

    # -- parsing -------------------------------------------------------------------------------

    def _parse(self) -> None:
        while not self.done:
            if self._backlogged():
                if not self.read_paused and self.transport is not None:
                    self.read_paused = True
                    self.transport.pause_reading()
                return  # _maybe_resume() carries on from here
            if self.pending_req is not None:
                if len(self.buf) < self.need:
                    return
                req, self.pending_req = self.pending_req, None
                req.body = bytes(self.buf[: self.need])
                del self.buf[: self.need]
                self._dispatch(req)
                continue
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > MAX_HEADER_BYTES:
                    self._fail(HttpError(431, f"request head over {MAX_HEADER_BYTES} bytes"))
                return
            if end > MAX_HEADER_BYTES:
                self._fail(HttpError(431, f"request head over {MAX_HEADER_BYTES} bytes"))
                return
            head = bytes(self.buf[:end])
            del self.buf[: end + 4]
            try:
                req = parse_head(head)
                length = _content_length(req)
            except HttpError as err:
                self._fail(err)
                return
            if length:
                if req.headers.get("expect", "").lower() == "100-continue" and self.transport:
                    self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                self.pending_req, self.need = req, length
            else:
                self._dispatch(req)

    def _dispatch(self, req: Request) -> None:
        slot = _Slot()
        slot.close = not _wants_keep_alive(req)
        self.slots.append(slot)
        if slot.close:
            self.done = True
        try:
            result = self.server.handler(req)
        except HttpError as err:
            result = Response(err.status, error_body("bad-request", err.message))
        except Exception as exc:
            result = _internal(req, exc)
        if isinstance(result, Response):
            self._answer(slot, result)
            return
        fut = asyncio.ensure_future(result)
        fut.add_done_callback(functools.partial(self._answered, slot, req))

    def _answered(self, slot: _Slot, req: Request, fut: asyncio.Future[Response]) -> None:
        try:
            resp = fut.result()
        except HttpError as err:
            resp = Response(err.status, error_body("bad-request", err.message))
        except BaseException as exc:
            resp = _internal(req, exc)
        self._answer(slot, resp)

    def _answer(self, slot: _Slot, resp: Response) -> None:
        slot.data = encode_response(resp, keep_alive=not slot.close)
        self._flush()

    def _fail(self, err: HttpError) -> None:
        code = "bad-request" if err.status < 500 else "unsupported"
        slot = _Slot()
        slot.close = True
        self.slots.append(slot)
        self.done = True
        self.buf.clear()
        self._answer(slot, Response(err.status, error_body(code, err.message)))

    def _flush(self) -> None:
        while self.slots and self.slots[0].data is not None:
            slot = self.slots.popleft()
            if self.transport is None:
                continue
            self.transport.write(slot.data)  # type: ignore[arg-type]
            self.last_active = self.loop.time()
            if slot.close:
                self.transport.close()
                self.slots.clear()
                return
        if self.done and not self.slots and self.transport is not None:
            self.transport.close()  # EOF or a refused request: nothing more to say
            return
        self._maybe_resume()


def _internal(req: Request, exc: BaseException) -> Response:
    log.error("handler failed for %s %s: %r", req.method, req.path, exc)
    return Response(500, error_body("internal", f"{type(exc).__name__}: {exc}"))


class HttpServer:
    """Serves `handler` on host:port; `start()` binds, `close()` stops and drops connections.

    `handler(request)` returns a `Response`, or an awaitable of one (a bare Future is used as
    is, without wrapping it in a task)."""

    def __init__(self, handler: Handler, *, idle_timeout_s: float = IDLE_TIMEOUT_S) -> None:
        self.handler = handler
        self.idle_timeout_s = idle_timeout_s
        self._server: asyncio.Server | None = None
        self._conns: set[_Connection] = set()

    async def start(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Connection(self), host, port, reuse_address=True
        )

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for conn in list(self._conns):
            if conn.transport is not None:
                conn.transport.close()
