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


class RaftnodeClient:
    """A connection to one node. invoke() never raises for DB or network errors."""

    def __init__(
        self, host: str, port: int, *, node: str = "", client_id: str | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.node = node
        self.client_id = client_id or _new_client_id()
        self._seq = 0
        self._conn: http.client.HTTPConnection | None = None
        self._last_write: tuple[str, Any, bytes] | None = None  # for resend()

    def open(self) -> None:
        """Connections are made lazily by invoke (a down node must not fail open)."""

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _stale(self) -> bool:
        sock = self._conn.sock if self._conn is not None else None
        if sock is None:
            return True
        try:
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)  # EOF (or unsolicited bytes) on an idle connection: reconnect

    def _connect(self, timeout: float) -> http.client.HTTPConnection:
        if self._conn is not None and self._stale():
            self.close()
        if self._conn is None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
            conn.connect()  # raises before anything is sent: a clean `fail`
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._conn = conn
        self._conn.sock.settimeout(timeout)
        return self._conn

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
        self._last_write = (f, value, payload) if f in WRITE_LIKE else None
        return self._send(f, value, payload, timeout)

    def resend(self, timeout: float) -> ClientResult | None:
        """Send the last write request again, unchanged: the same (client_id, seq), so a
        correct node applies it at most once and answers with the first result (what a
        real client's retry of an unanswered request relies on; the dup-apply bug is a
        node that applies it twice). None if the last request was not a write."""
        if self._last_write is None:
            return None
        f, value, payload = self._last_write
        return self._send(f, value, payload, timeout)

    def _send(self, f: str, value: Any, payload: bytes, timeout: float) -> ClientResult:
        try:
            conn = self._connect(timeout)
        except TimeoutError:
            self.close()
            return ClientResult("fail", value, "connect-timeout")
        except OSError as exc:
            self.close()
            return ClientResult("fail", value, f"connect: {exc.strerror or exc}")
        try:
            conn.request("POST", "/kv", body=payload, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            raw = response.read()
        except TimeoutError:
            self.close()
            return ClientResult("info", value, "timeout")
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            return ClientResult("info", value, f"connection lost: {type(exc).__name__}")
        if response.will_close:
            self.close()
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:
            parsed = {}
        return classify(f, value, response.status, parsed)


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
