"""EtcdClient: the harness ops over etcd's v3 HTTP/JSON gateway (no gRPC dependency).

etcd 3.4 serves its gRPC API as JSON on the client port (docs: REFERENCE.md, "etcd 3.4
HTTP/JSON gateway"): every call is a POST, keys and values are base64, 64-bit integers
come back as JSON strings and fields at their default are left out (a failed txn has
no ``succeeded``, a missing key no ``kvs``, a zero revision no ``mod_revision``).

How each op maps onto it (values are stored as canonical JSON, so ints, lists and
objects round-trip and equal values have equal bytes, which a value compare needs):

| op | calls |
|---|---|
| read | ``/v3/kv/range`` (linearizable; ``serializable=True`` is served locally, may be stale) |
| write | ``/v3/kv/put`` |
| cas | one ``/v3/kv/txn``: compare VALUE == old → put new, else range (absent → not-found) |
| delete | ``/v3/kv/deleterange`` (nothing deleted → not-found) |
| append, add, incr, transfer | read-modify-write: read the keys in one txn, then a txn that puts the new values if every key's mod_revision is unchanged; on a lost race the txn's failure branch returns the fresh values and the loop retries |

Classification (what makes a checker's verdict sound):
- ``ok``: the gateway answered 200 (a txn that lost its compare is a definite ``fail``:
  precondition-failed / not-found, or "contention" when the op ran out of time).
- ``fail``: nothing was sent (connect refused or timed out), or a definite refusal (gRPC
  codes such as InvalidArgument 3, ResourceExhausted 8, FailedPrecondition 9).
- ``info``: a write-like op that timed out, lost its connection after sending, or got
  an error etcd gives when a proposal's fate is unknown (Unavailable 14 "request timed
  out", DeadlineExceeded 4, Unknown 2, Internal 13).
- Reads (and the read step of a read-modify-write, before anything is written) change
  nothing, so any error there is a ``fail``.

The keep-alive connection handling (reconnect before reuse if the server closed an
idle connection) is RaftnodeClient's, inherited; only the protocol differs.
"""

from __future__ import annotations

import base64
import http.client
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from harness.core.protocols import ClientResult
from harness.dbs.raftnode_client import RaftnodeClient

# gRPC status codes that prove the request was refused before it could take effect.
DEFINITE_CODES = {3, 5, 6, 7, 8, 9, 11, 12, 16}
# The error word recorded for a gRPC code (the checkers' known error codes, so that the
# unhandled-errors checker only flags what nobody classified); others: "etcd-code-N".
CODE_WORDS = {
    3: "bad-request",
    4: "timeout",
    5: "not-found",
    8: "unavailable",
    9: "precondition-failed",
    11: "bad-request",
    14: "unavailable",
}
MIN_CALL_S = 0.05


def b64(data: str | bytes) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.b64encode(raw).decode("ascii")


def encode_value(value: Any) -> str:
    """A harness value as the base64 of its canonical JSON (sorted keys, no spaces)."""
    return b64(json.dumps(value, sort_keys=True, separators=(",", ":")))


def decode_value(encoded: str | None) -> Any:
    """The harness value back from a gateway ``value`` field. A value that is not our
    JSON (written by something else) comes back as its text."""
    raw = base64.b64decode(encoded or "")
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


def revision(kv: dict[str, Any] | None) -> int:
    """A kv's mod_revision (0 for an absent key; the gateway omits zero fields)."""
    return int((kv or {}).get("mod_revision", 0))


class GatewayError(Exception):
    """A call that did not return a 200 body. ``sent`` says whether the request may
    have reached etcd; ``code`` is the gRPC status code from the body, if any."""

    def __init__(
        self, message: str, *, sent: bool, status: int | None = None, code: int | None = None
    ):
        super().__init__(message)
        self.sent = sent
        self.status = status
        self.code = code

    @property
    def definite(self) -> bool:
        """True when etcd certainly did not apply the request."""
        if not self.sent:
            return True
        if self.code is not None:
            return self.code in DEFINITE_CODES
        return self.status is not None and 400 <= self.status < 500


class Refused(Exception):
    """The op's own precondition failed (insufficient funds, a non-list to append to)."""


@dataclass
class KeyState:
    value: Any
    revision: int


class EtcdClient(RaftnodeClient):
    """One keep-alive connection to one etcd member. invoke() never raises."""

    def __init__(self, host: str, port: int, *, node: str = "", serializable: bool = False):
        super().__init__(host, port, node=node)
        self.serializable = serializable

    # -- transport --------------------------------------------------------------------
    def call(self, path: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
        """POST one gateway call; the decoded 200 body, else GatewayError."""
        payload = json.dumps(body, separators=(",", ":")).encode()
        try:
            conn = self._connect((self.host, self.port), timeout)
        except OSError as exc:
            self.close()
            raise GatewayError(f"connect: {exc.strerror or exc}", sent=False) from None
        try:
            conn.request("POST", path, body=payload, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            lost = (
                "timeout"
                if isinstance(exc, TimeoutError)
                else f"connection lost: {type(exc).__name__}"
            )
            raise GatewayError(lost, sent=True) from None
        if response.will_close:
            self.close()
        parsed = _json_object(raw)
        if response.status != 200:
            code = parsed.get("code") if isinstance(parsed.get("code"), int) else None
            text = str(parsed.get("error") or parsed.get("message") or "")
            word = CODE_WORDS.get(code, f"etcd-code-{code}") if code is not None else None
            message = f"{word or f'http-{response.status}'}: {text}".rstrip(": ")
            raise GatewayError(message, sent=True, status=response.status, code=code)
        return parsed

    # -- the harness ops -----------------------------------------------------------------
    def invoke(self, f: str, key: Any, value: Any, timeout: float) -> ClientResult:
        deadline = time.monotonic() + timeout
        try:
            return self._dispatch(f, None if key is None else str(key), value, deadline)
        except GatewayError as exc:
            if f == "read" or exc.definite:
                return ClientResult("fail", value, str(exc))
            return ClientResult("info", value, str(exc))
        except Refused as exc:
            return ClientResult("fail", value, str(exc))
        except (ValueError, TypeError, KeyError) as exc:  # a malformed op or reply
            return ClientResult("fail", value, f"bad-request: {exc}")

    def _dispatch(self, f: str, key: str | None, value: Any, deadline: float) -> ClientResult:
        if f == "read":
            return ClientResult("ok", self.read(key, deadline))
        if f == "write":
            self.call(
                "/v3/kv/put", {"key": b64(key), "value": encode_value(value)}, _left(deadline)
            )
            return ClientResult("ok", value)
        if f == "cas":
            return self._cas(key, value, deadline)
        if f == "delete":
            reply = self.call("/v3/kv/deleterange", {"key": b64(key)}, _left(deadline))
            if int(reply.get("deleted", 0)) == 0:
                return ClientResult("fail", value, "not-found")
            return ClientResult("ok", value)
        if f in ("append", "add"):
            return self._update(
                [key or "set"], value, deadline, lambda cur: [_append(cur[0], value)]
            )
        if f == "incr":
            return self._update([key], value, deadline, lambda cur: [_incr(cur[0], value)])
        if f == "transfer":
            if not isinstance(value, dict) or not {"from", "to", "amount"} <= set(value):
                raise ValueError(f"transfer value must have from, to, amount; got {value!r}")
            keys = [str(value["from"]), str(value["to"])]
            return self._update(keys, value, deadline, lambda cur: _transfer(cur, value["amount"]))
        raise ValueError(f"unsupported op {f!r}")

    def read(self, key: str | None, deadline: float) -> Any:
        body: dict[str, Any] = {"key": b64(key or "")}
        if self.serializable:
            body["serializable"] = True
        kvs = self.call("/v3/kv/range", body, _left(deadline)).get("kvs") or []
        return decode_value(kvs[0].get("value")) if kvs else None

    def _cas(self, key: str | None, value: Any, deadline: float) -> ClientResult:
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise ValueError(f"cas value must be [old, new], not {value!r}")
        old, new = value
        k = b64(key or "")
        reply = self.call(
            "/v3/kv/txn",
            {
                "compare": [
                    {"key": k, "target": "VALUE", "result": "EQUAL", "value": encode_value(old)}
                ],
                "success": [{"request_put": {"key": k, "value": encode_value(new)}}],
                "failure": [{"request_range": {"key": k}}],
            },
            _left(deadline),
        )
        if reply.get("succeeded"):
            return ClientResult("ok", value)
        found = _ranges(reply)[0]
        return ClientResult("fail", value, "precondition-failed" if found else "not-found")

    def _snapshot(self, keys: Sequence[str], deadline: float) -> list[KeyState]:
        """The keys' values and revisions, read atomically (one read-only txn)."""
        reply = self.call(
            "/v3/kv/txn",
            {"success": [{"request_range": {"key": b64(k)}} for k in keys]},
            _left(deadline),
        )
        return [_state(kv) for kv in _ranges(reply)]

    def _update(
        self,
        keys: Sequence[str],
        value: Any,
        deadline: float,
        compute: Callable[[list[Any]], list[Any]],
    ) -> ClientResult:
        """Read-modify-write `keys` until a txn commits it unchanged-since-read."""
        try:
            states = self._snapshot(keys, deadline)
        except GatewayError as exc:
            exc.sent = False  # nothing was written yet: whatever happened, it is a fail
            raise
        while True:
            new_values = compute([s.value for s in states])
            reply = self.call(
                "/v3/kv/txn",
                {
                    "compare": [
                        {
                            "key": b64(k),
                            "target": "MOD",
                            "result": "EQUAL",
                            "mod_revision": str(s.revision),
                        }
                        for k, s in zip(keys, states, strict=True)
                    ],
                    "success": [
                        {"request_put": {"key": b64(k), "value": encode_value(v)}}
                        for k, v in zip(keys, new_values, strict=True)
                    ],
                    "failure": [{"request_range": {"key": b64(k)}} for k in keys],
                },
                _left(deadline),
            )
            if reply.get("succeeded"):
                return ClientResult("ok", value)
            states = [_state(kv) for kv in _ranges(reply)]
            if time.monotonic() >= deadline:
                return ClientResult(
                    "fail", value, "precondition-failed: every txn lost its compare (contention)"
                )


def _json_object(raw: bytes) -> dict[str, Any]:
    """A response body as a dict ({} when it is empty, not JSON or not an object)."""
    try:
        parsed = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _left(deadline: float) -> float:
    return max(deadline - time.monotonic(), MIN_CALL_S)


def _ranges(reply: dict[str, Any]) -> list[dict[str, Any] | None]:
    """The first kv of each request_range response of a txn (None: key absent)."""
    out: list[dict[str, Any] | None] = []
    for response in reply.get("responses") or []:
        kvs = (response.get("response_range") or {}).get("kvs") or []
        out.append(kvs[0] if kvs else None)
    return out


def _state(kv: dict[str, Any] | None) -> KeyState:
    return KeyState(decode_value(kv.get("value")) if kv else None, revision(kv))


def _append(current: Any, element: Any) -> list[Any]:
    if current is None:
        return [element]
    if not isinstance(current, list):
        raise Refused(f"precondition-failed: cannot append to {type(current).__name__}")
    return [*current, element]


def _incr(current: Any, delta: Any) -> int:
    if not isinstance(delta, int) or isinstance(delta, bool):
        raise ValueError(f"incr value must be an integer, not {delta!r}")
    if current is None:
        return delta
    if not isinstance(current, int) or isinstance(current, bool):
        raise Refused(f"precondition-failed: cannot increment {type(current).__name__}")
    return current + delta


def _transfer(balances: list[Any], amount: Any) -> list[int]:
    source, target = (0 if b is None else b for b in balances)
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in (source, target, amount)):
        raise ValueError(
            f"transfer needs integer balances and amount, got {balances!r}, {amount!r}"
        )
    if source < amount:
        raise Refused("precondition-failed: insufficient funds")
    return [source - amount, target + amount]
