"""The raftnode client API (docs/interfaces.md §2) on top of `raftnode.httpserver`.

Routes: ``POST /kv`` (one operation as a JSON object), ``GET /status``, ``GET|POST
/admin/partition``, ``GET|POST /admin/network`` (message chaos, raftnode.netchaos),
``GET|POST /admin/disk`` (slow-disk injection, raftnode.diskdelay). Requests are validated
here, before they reach the core, so a malformed one is answered ``400 bad-request`` and is
certainly not applied. The node behind the API is any object with the `NodeApi` shape (the
runtime; a fake in tests).
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from raftnode.core.types import ClientReply, ClientRequest
from raftnode.diskdelay import DiskDelay
from raftnode.httpserver import HttpError, Request, Response, error_body
from raftnode.netchaos import NetworkChaos

# HTTP status per error code of a ClientReply.
STATUS_BY_ERROR = {
    "bad-request": 400,
    "not-found": 404,
    "precondition-failed": 409,
    "not-leader": 421,
    "unavailable": 503,
    "timeout": 504,
}

# op -> required body fields (besides "op"); each is checked for presence and JSON type.
_KEY = ("key", str)
_FIELDS: dict[str, tuple[tuple[str, type | None], ...]] = {
    "read": (_KEY,),
    "write": (_KEY, ("value", None)),
    "cas": (_KEY, ("old", None), ("new", None)),
    "append": (_KEY, ("value", None)),
    "delete": (_KEY,),
    "incr": (_KEY, ("value", int)),
    "transfer": (("from", str), ("to", str), ("value", int)),
}
OPS = tuple(_FIELDS)
# Deeper values are refused: nesting near Python's recursion limit (about 1000) breaks json
# somewhere on the way (the digest, the WAL, the peer wire) and used to answer 500.
MAX_NESTING = 64


class NodeApi(Protocol):
    """What the API needs from the node it serves."""

    def submit(self, req: ClientRequest) -> Awaitable[ClientReply]:
        """Hand a request to the node; an asyncio.Future is served without a task per request."""
        ...

    def status(self) -> dict[str, Any]: ...

    def partition(self) -> list[str]: ...

    def set_partition(self, nodes: list[str]) -> None: ...

    def network(self) -> dict[str, Any]: ...

    def set_network(self, chaos: NetworkChaos) -> None: ...

    def disk(self) -> dict[str, Any]: ...

    def set_disk(self, delay: DiskDelay) -> None: ...

    def leader_client(self, leader: str | None) -> str | None: ...

    def new_handle(self) -> str: ...


def _bad(message: str) -> HttpError:
    return HttpError(400, message)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not standard JSON (NaN and Infinity are refused)")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 parses to inf
        raise ValueError(f"number {text[:40]} is not finite (NaN and Infinity are refused)")
    return value


def _json_body(req: Request) -> Any:
    """The body as standard JSON: no NaN/Infinity (they would be stored and come back as
    non-standard JSON), nesting at most MAX_NESTING deep."""
    if not req.body:
        raise _bad("empty body; send a JSON object")
    try:
        body = json.loads(req.body, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        body = None  # deeper than even the parser goes
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad(f"body is not valid JSON: {exc}") from exc
    brackets = req.body.count(b"[") + req.body.count(b"{")  # C-speed bound on the depth
    if body is None or (brackets > MAX_NESTING and _too_deep(body, MAX_NESTING)):
        raise _bad(f"body is nested deeper than {MAX_NESTING} levels")
    return body


def _too_deep(value: Any, limit: int) -> bool:
    """Whether `value` nests lists/objects more than `limit` levels (iterative: no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def parse_kv_request(body: Any, handle: str) -> ClientRequest:
    """Validate one /kv body and turn it into a ClientRequest (HttpError 400 if malformed).

    Mapping onto the core's request: ``key`` and ``value`` as given; cas carries
    ``extra={"old": A, "new": B}``; transfer ``key=None, value=N, extra={"from","to"}``."""
    if not isinstance(body, dict):
        raise _bad("body must be a JSON object")
    op = body.get("op")
    if op not in _FIELDS:
        raise _bad(f"unknown op {op!r}; expected one of {', '.join(OPS)}")
    for name, kind in _FIELDS[op]:
        if name not in body:
            raise _bad(f"{op} needs field {name!r}")
        value = body[name]
        if kind is int and (not isinstance(value, int) or isinstance(value, bool)):
            raise _bad(f"{op}: field {name!r} must be an integer")
        if kind is str and not isinstance(value, str):
            raise _bad(f"{op}: field {name!r} must be a string")
    client_id, seq = body.get("client_id"), body.get("seq")
    if client_id is not None and not isinstance(client_id, str):
        raise _bad("client_id must be a string")
    if seq is not None and (not isinstance(seq, int) or isinstance(seq, bool)):
        raise _bad("seq must be an integer")
    if (client_id is None) != (seq is None):
        raise _bad("client_id and seq go together")
    extra: dict[str, Any] = {}
    if op == "cas":
        extra = {"old": body["old"], "new": body["new"]}
    elif op == "transfer":
        extra = {"from": body["from"], "to": body["to"]}
    return ClientRequest(
        handle=handle,
        op=op,
        key=body.get("key"),
        value=body.get("value"),
        client_id=client_id,
        seq=seq,
        extra=extra,
    )


def reply_response(reply: ClientReply, node: NodeApi) -> Response:
    """A ClientReply as the HTTP response of the contract."""
    if reply.ok:
        return Response(200, {"ok": True, "value": reply.value, "index": reply.index})
    code = reply.error or "unavailable"
    body: dict[str, Any] = {"ok": False, "error": code, "message": _message(code, reply)}
    if code == "precondition-failed" or (code != "not-leader" and reply.value is not None):
        body["value"] = reply.value
    if reply.leader:
        body["leader"] = reply.leader
        addr = node.leader_client(reply.leader)
        if addr:
            body["leader_client"] = addr
    return Response(STATUS_BY_ERROR.get(code, 503), body)


def _message(code: str, reply: ClientReply) -> str:
    if reply.message:  # the core's own words, when it has them
        return reply.message
    if code == "not-leader":
        return f"not the leader; leader is {reply.leader or 'unknown'}"
    if isinstance(reply.value, str) and code == "bad-request":
        return reply.value
    return {
        "not-found": "key does not exist",
        "precondition-failed": "precondition failed",
        "unavailable": "no leader or leadership not confirmed; not applied",
        "timeout": "no answer in time; the operation may or may not take effect",
        "bad-request": "request rejected",
    }.get(code, code)


class Api:
    """Routes HTTP requests to a `NodeApi`."""

    def __init__(self, node: NodeApi) -> None:
        self.node = node

    def __call__(self, req: Request) -> Response | Awaitable[Response]:
        path = req.path.split("?", 1)[0]
        if path == "/kv":
            if req.method != "POST":
                return Response(405, error_body("bad-request", "use POST /kv"))
            creq = parse_kv_request(_json_body(req), self.node.new_handle())
            pending = self.node.submit(creq)
            if isinstance(pending, asyncio.Future):  # the hot path: no task per request
                out: asyncio.Future[Response] = pending.get_loop().create_future()
                pending.add_done_callback(functools.partial(self._done, out))
                return out
            return self._await_reply(pending)
        if path == "/status":
            if req.method != "GET":
                return Response(405, error_body("bad-request", "use GET /status"))
            return Response(200, self.node.status())
        if path == "/admin/partition":
            return self._partition(req)
        if path == "/admin/network":
            return self._network(req)
        if path == "/admin/disk":
            return self._disk(req)
        return Response(404, error_body("bad-request", f"no route {path[:100]!r}"))

    def _done(self, out: asyncio.Future[Response], pending: asyncio.Future[ClientReply]) -> None:
        if out.done():
            return
        if pending.cancelled():
            out.set_result(reply_response(ClientReply("", ok=False, error="timeout"), self.node))
        elif pending.exception() is not None:
            out.set_exception(pending.exception())  # type: ignore[arg-type]
        else:
            out.set_result(reply_response(pending.result(), self.node))

    async def _await_reply(self, pending: Awaitable[ClientReply]) -> Response:
        return reply_response(await pending, self.node)

    def _partition(self, req: Request) -> Response:
        if req.method == "POST":
            body = _json_body(req)
            drop = body.get("drop") if isinstance(body, dict) else None
            if not isinstance(drop, list) or not all(isinstance(n, str) for n in drop):
                raise _bad('want {"drop": ["n2", ...]}')
            self.node.set_partition(drop)
        elif req.method != "GET":
            return Response(405, error_body("bad-request", "use GET or POST /admin/partition"))
        return Response(200, {"ok": True, "drop": self.node.partition()})

    def _network(self, req: Request) -> Response:
        """Message chaos on this node's outgoing peer messages; served like /admin/partition
        (the client port, no credentials of its own: docs/raftnode.md)."""
        return self._settings(
            req, "/admin/network", NetworkChaos.parse, self.node.set_network, self.node.network
        )

    def _disk(self, req: Request) -> Response:
        """Slow-disk injection (raftnode.diskdelay); served like /admin/network."""
        return self._settings(
            req, "/admin/disk", DiskDelay.parse, self.node.set_disk, self.node.disk
        )

    @staticmethod
    def _settings(
        req: Request,
        path: str,
        parse: Callable[[Any], Any],
        apply: Callable[[Any], None],
        current: Callable[[], dict[str, Any]],
    ) -> Response:
        """A fault-settings endpoint: POST parses (400 naming the bad field) and applies
        the body; GET and POST answer what is in force."""
        if req.method == "POST":
            try:
                settings = parse(_json_body(req))
            except ValueError as exc:
                raise _bad(str(exc)) from exc
            apply(settings)
        elif req.method != "GET":
            return Response(405, error_body("bad-request", f"use GET or POST {path}"))
        return Response(200, {"ok": True, **current()})
