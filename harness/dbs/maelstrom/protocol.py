"""The Maelstrom node protocol as the harness speaks it: message shape, the lin-kv ops,
and what each reply means for a Jepsen client (ok / fail / info).

Kept free of sockets and threads so the classification — the part that decides whether
a verdict is sound — can be read and tested on its own. Codes and their definiteness
follow Maelstrom's protocol documentation (see /work/shared/REFERENCE.md): a *definite*
error proves the operation did not take effect (`fail`); an indefinite one (0 timeout,
13 crash, every code >= 1000) or no reply at all leaves its outcome unknown (`info`),
except for a read, which changes nothing and so can always be counted as `fail`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from harness.core.protocols import ClientResult
from harness.dbs.raftnode_client import build_body

# Error codes with their Maelstrom names.
ERROR_NAMES = {
    0: "timeout",
    1: "node-not-found",
    10: "not-supported",
    11: "temporarily-unavailable",
    12: "malformed-request",
    13: "crash",
    14: "abort",
    20: "key-does-not-exist",
    21: "key-already-exists",
    22: "precondition-failed",
    30: "txn-conflict",
}
DEFINITE_CODES = frozenset({1, 10, 11, 12, 14, 20, 21, 22, 30})
KEY_DOES_NOT_EXIST = 20

# Harness workload op -> Maelstrom request type (the lin-kv workload's three ops).
OPS = ("read", "write", "cas")
SUPPORTED_WORKLOADS = ("register", "kv")


class ProtocolError(ValueError):
    """A line a node wrote that is not a Maelstrom message (the text says what is wrong)."""


@dataclass(frozen=True)
class Envelope:
    """One parsed Maelstrom message."""

    src: str
    dest: str
    body: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.body.get("type"))

    @property
    def in_reply_to(self) -> int | None:
        value = self.body.get("in_reply_to")
        return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_line(line: bytes) -> Envelope:
    """A node's stdout line as an Envelope; ProtocolError if it is anything else."""
    try:
        obj = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"not JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise ProtocolError(f"a JSON {type(obj).__name__}, not an object")
    src, dest, body = obj.get("src"), obj.get("dest"), obj.get("body")
    if not isinstance(src, str) or not isinstance(dest, str):
        raise ProtocolError("needs string fields src and dest")
    if not isinstance(body, dict) or not isinstance(body.get("type"), str):
        raise ProtocolError("needs a body object with a string type")
    return Envelope(src, dest, body)


def encode(src: str, dest: str, body: dict[str, Any]) -> bytes:
    """One message as the newline-terminated JSON line nodes read on stdin."""
    return (
        json.dumps({"src": src, "dest": dest, "body": body}, separators=(",", ":")).encode() + b"\n"
    )


def request_body(f: str, key: Any, value: Any) -> dict[str, Any]:
    """The lin-kv request for a harness op (without msg_id); ValueError if it has none.
    Shapes are checked by the raftnode client's `build_body`, the one place that knows
    what each workload op carries."""
    if f not in OPS:
        raise ValueError(f"op {f!r} is not supported by the Maelstrom lin-kv protocol")
    checked = build_body(f, key, value)
    body: dict[str, Any] = {"type": f, "key": key}  # keys as given: Maelstrom keys are any JSON
    if f == "write":
        body["value"] = value
    elif f == "cas":
        body["from"], body["to"] = checked["old"], checked["new"]
    return body


def error_name(code: Any) -> str:
    if isinstance(code, int) and not isinstance(code, bool):
        return ERROR_NAMES.get(code, f"error-{code}")
    return f"error-{code!r}"


def classify_reply(f: str, invoked: Any, reply: dict[str, Any] | None, why: str) -> ClientResult:
    """The ClientResult for the reply to op `f` (None: no reply, `why` says why)."""
    if reply is None:
        # Nothing came back: a read changed nothing, anything else may have happened.
        return ClientResult("fail" if f == "read" else "info", invoked, why)
    kind = reply.get("type")
    if kind == f"{f}_ok":
        return ClientResult("ok", reply.get("value") if f == "read" else invoked)
    if kind == "error":
        code = reply.get("code")
        name = error_name(code)
        if f == "read" and code == KEY_DOES_NOT_EXIST:
            return ClientResult("ok", None)  # lin-kv: a missing key reads as nil
        text = reply.get("text")
        error = f"{name}: {text}" if isinstance(text, str) and text not in ("", name) else name
        if code in DEFINITE_CODES or f == "read":
            return ClientResult("fail", invoked, error)
        return ClientResult("info", invoked, error)
    return ClientResult("fail" if f == "read" else "info", invoked, f"unexpected reply {kind!r}")
