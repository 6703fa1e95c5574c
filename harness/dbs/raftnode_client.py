"""RaftnodeClient: one keep-alive HTTP connection to one raftnode (docs/interfaces.md §2).

Classification is the whole point of a Jepsen client, so it is strict:
- `ok`: HTTP 200.
- `fail`: the op certainly did not happen — 4xx (bad-request, not-found,
  precondition-failed), 421 not-leader, 503 unavailable, and a refused/failed connect
  (nothing was sent).
- `info`: the op may or may not have happened — 504 timeout, a socket timeout, or the
  connection lost after the request was (possibly) sent.

Before reusing a kept-alive connection the client checks that the server has not
closed it meanwhile (an idle close or a restarted node); otherwise a harmless reconnect
would be misread as "lost after sending" and produce a needless `info`.

Completion values follow Jepsen's convention: a read returns what was read; every
other op echoes the value it was invoked with (an add/append's element, a cas's
[old, new], a transfer's {"from","to","amount"}), which is what the checkers compare.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import select
import socket
import time
from typing import Any

from harness.core.protocols import ClientResult

_ids = itertools.count(1)
WRITE_LIKE = {"write", "cas", "append", "add", "delete", "incr", "transfer"}
FAIL_STATUSES = {400, 404, 405, 409, 421, 503}


def _new_client_id() -> str:
    return f"c{os.getpid()}-{next(_ids)}"


def build_body(f: str, key: Any, value: Any) -> dict[str, Any]:
    """The /kv request for a harness op; ValueError for shapes the node cannot take."""
    key_s = None if key is None else str(key)
    if f in ("read", "delete"):
        return {"op": f, "key": key_s}
    if f in ("write", "append"):
        return {"op": f, "key": key_s, "value": value}
    if f == "add":  # set workload: add an element = append it to the set's key
        return {"op": "append", "key": key_s if key_s is not None else "set", "value": value}
    if f == "incr":
        return {"op": "incr", "key": key_s, "value": value}
    if f == "cas":
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise ValueError(f"cas value must be [old, new], not {value!r}")
        return {"op": "cas", "key": key_s, "old": value[0], "new": value[1]}
    if f == "transfer":
        if not isinstance(value, dict) or not {"from", "to", "amount"} <= set(value):
            raise ValueError(f"transfer value must have from, to, amount; got {value!r}")
        return {
            "op": "transfer",
            "from": str(value["from"]),
            "to": str(value["to"]),
            "value": value["amount"],
        }
    raise ValueError(f"unsupported op {f!r}")


def classify(f: str, invoked: Any, status: int, body: Any) -> ClientResult:
    """Map one HTTP response to ok/fail/info per the contract."""
    if not isinstance(body, dict):
        body = {}
    if status == 200:
        return ClientResult("ok", body.get("value") if f == "read" else invoked)
    error = str(body.get("error") or f"http-{status}")
    if status == 504:
        return ClientResult("info", invoked, error)
    if status in FAIL_STATUSES or 400 <= status < 500:
        return ClientResult("fail", invoked, error)
    return ClientResult("info", invoked, error)  # 5xx we do not know: outcome unknown


Addr = tuple[str, int]
MAX_ATTEMPTS = 3
# Errors after which another node may well succeed: nothing happened on this one.
RETRY_DEFINITE = ("not-leader", "unavailable", "connect")
RETRY_PAUSE_S = 0.1  # before retrying "unavailable": an election takes a few hundred ms


def _retryable(result: ClientResult) -> bool:
    return result.type == "info" or (
        result.type == "fail" and str(result.error or "").startswith(RETRY_DEFINITE)
    )


class RaftnodeClient:
    """A connection to one node, failing over to `fallbacks`. invoke() never raises for
    DB or network errors.

    Fail-over (docs/nemeses.md, "Clients"): when the bound node answers not-leader or
    unavailable, refuses the connection, or leaves the outcome unknown, the op is tried
    again on another node (the leader it named first), at most MAX_ATTEMPTS times in all,
    each attempt with an equal share of the op's timeout. A write keeps its client_id and
    seq across attempts, so the node's request dedup makes the retry harmless (and the
    dup-apply bug visible). A write with any ambiguous attempt that does not end ok is
    reported `info` with an error starting ``indefinite:``, never `fail`: the first
    attempt may still take effect."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        node: str = "",
        client_id: str | None = None,
        fallbacks: list[Addr] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.node = node
        self.client_id = client_id or _new_client_id()
        self.fallbacks = [a for a in (fallbacks or []) if a != (host, port)]
        self._seq = 0
        self._turn = 0  # rotates the fallback order between ops
        self._conns: dict[Addr, http.client.HTTPConnection] = {}

    def open(self) -> None:
        """Connections are made lazily by invoke (a down node must not fail open)."""

    def close(self) -> None:
        for addr in list(self._conns):
            self._drop(addr)

    def _drop(self, addr: Addr) -> None:
        conn = self._conns.pop(addr, None)
        if conn is not None:
            conn.close()

    def _stale(self, conn: http.client.HTTPConnection) -> bool:
        sock = conn.sock
        if sock is None:
            return True
        try:
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)  # EOF (or unsolicited bytes) on an idle connection: reconnect

    def _connect(self, addr: Addr, timeout: float) -> http.client.HTTPConnection:
        conn = self._conns.get(addr)
        if conn is not None and self._stale(conn):
            self._drop(addr)
            conn = None
        if conn is None:
            conn = http.client.HTTPConnection(addr[0], addr[1], timeout=timeout)
            conn.connect()  # raises before anything is sent: a clean `fail`
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._conns[addr] = conn
        conn.sock.settimeout(timeout)
        return conn

    def invoke(self, f: str, key: Any, value: Any, timeout: float) -> ClientResult:
        try:
            body = build_body(f, key, value)
        except ValueError as exc:
            return ClientResult("fail", value, f"bad-request: {exc}")
        if f in WRITE_LIKE:
            self._seq += 1
            body["client_id"] = self.client_id
            body["seq"] = self._seq
        payload = json.dumps(body, separators=(",", ":")).encode()
        attempts = MAX_ATTEMPTS if self.fallbacks else 1
        share = timeout / attempts
        order = self._fallback_order()
        target: Addr = (self.host, self.port)
        ambiguous = False
        tried: list[Addr] = []
        result = ClientResult("fail", value, "no attempt")
        for attempt in range(attempts):
            attempt_end = time.monotonic() + share
            tried.append(target)
            result, hint = self._attempt(target, f, value, payload, share)
            if not _retryable(result) or attempt == attempts - 1:
                break
            ambiguous = ambiguous or result.type == "info"
            target = self._next_target(hint, order, tried)
            if str(result.error or "").startswith("unavailable"):
                time.sleep(max(0.0, min(RETRY_PAUSE_S, attempt_end - time.monotonic())))
        if f in WRITE_LIKE and result.type != "ok" and (ambiguous or result.type == "info"):
            error = str(result.error or "unknown")
            if ambiguous and not error.startswith("indefinite:"):
                error = f"indefinite: {error}"
            return ClientResult("info", value, error)
        return result

    def _fallback_order(self) -> list[Addr]:
        if not self.fallbacks:
            return []
        self._turn = (self._turn + 1) % len(self.fallbacks)
        return self.fallbacks[self._turn :] + self.fallbacks[: self._turn]

    def _next_target(self, hint: Addr | None, order: list[Addr], tried: list[Addr]) -> Addr:
        """The leader the node named (if any and not just tried), else the next node not
        tried yet in this op's rotation, else the least recently tried."""
        if hint is not None and hint != tried[-1]:
            return hint
        candidates = [*order, (self.host, self.port)]

        def last_tried(addr: Addr) -> int:
            return max((i for i, a in enumerate(tried) if a == addr), default=-1)

        return min(candidates, key=last_tried)  # min keeps the rotation among ties

    def _attempt(
        self, addr: Addr, f: str, value: Any, payload: bytes, timeout: float
    ) -> tuple[ClientResult, Addr | None]:
        """One request to one node: its classified result and the leader it named."""
        try:
            conn = self._connect(addr, timeout)
        except TimeoutError:
            self._drop(addr)
            return ClientResult("fail", value, "connect-timeout"), None
        except OSError as exc:
            self._drop(addr)
            return ClientResult("fail", value, f"connect: {exc.strerror or exc}"), None
        try:
            conn.request("POST", "/kv", body=payload, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            raw = response.read()
        except TimeoutError:
            self._drop(addr)
            return ClientResult("info", value, "timeout"), None
        except (OSError, http.client.HTTPException) as exc:
            self._drop(addr)
            return ClientResult("info", value, f"connection lost: {type(exc).__name__}"), None
        if response.will_close:
            self._drop(addr)
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:
            parsed = {}
        return classify(f, value, response.status, parsed), _leader_hint(parsed)


def _leader_hint(body: Any) -> Addr | None:
    """The leader's client address a not-leader/unavailable answer named, if any."""
    text = body.get("leader_client") if isinstance(body, dict) else None
    if not isinstance(text, str):
        return None
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        return None
    if host in ("0.0.0.0", ""):
        return None
    return host.strip("[]"), int(port)


def get_json(host: str, port: int, path: str, timeout: float, body: Any = None) -> tuple[int, Any]:
    """One-shot GET (or POST with a JSON body) on a fresh connection; raises OSError."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        if body is None:
            conn.request("GET", path)
        else:
            conn.request(
                "POST",
                path,
                body=json.dumps(body).encode(),
                headers={"Content-Type": "application/json"},
            )
        response = conn.getresponse()
        raw = response.read()
    except http.client.HTTPException as exc:
        raise OSError(str(exc)) from exc
    finally:
        conn.close()
    try:
        return response.status, json.loads(raw) if raw else None
    except ValueError as exc:
        raise OSError(f"{path}: response is not JSON") from exc
