"""The key-value state machine replicated by the Raft log.

Commands are plain JSON dicts (they travel in log entries and are digested for events):
`{"op": "write", "key": "k", "value": V, "client_id": "c7", "seq": 12}` and friends, see
docs/interfaces.md §2. `apply` returns `{"ok": bool, "value": ..., "error": ...}`.

Dedup: the last `(seq, result)` per `client_id` is kept (and snapshotted), so a retried
request is applied once and answers with its first result. With dedup off (the dup-apply
planted bug) every copy in the log takes effect.

Standard library only: raftnode is uploaded to bare hosts.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from raftnode.core.types import ClientRequest

WRITE_OPS = frozenset({"write", "cas", "append", "delete", "incr", "transfer"})
OPS = WRITE_OPS | {"read"}

_ABSENT = object()
_DELETE = object()


class BadRequest(ValueError):
    """A request that can never be applied; the message is one line for the client."""


def _ok(value: Any = None) -> dict[str, Any]:
    return {"ok": True, "value": value, "error": None}


def _err(error: str, value: Any = None) -> dict[str, Any]:
    return {"ok": False, "value": value, "error": error}


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _need_key(key: Any) -> str:
    if not isinstance(key, str) or not key:
        raise BadRequest("'key' must be a non-empty string")
    return key


def command_from_request(req: ClientRequest) -> dict[str, Any]:
    """Validate a client request and build the command dict that goes into the log.

    cas takes `old`/`new` from `req.extra` (or `value` as a two-element list); transfer
    takes `from`/`to` from `req.extra` and the amount from `value`."""
    op = req.op
    if op not in OPS:
        raise BadRequest(f"unknown op {op!r} (expected one of {', '.join(sorted(OPS))})")
    cmd: dict[str, Any] = {"op": op}
    extra = req.extra or {}
    if op == "transfer":
        src, dst = extra.get("from"), extra.get("to")
        if not isinstance(src, str) or not isinstance(dst, str) or not src or not dst:
            raise BadRequest("transfer needs string 'from' and 'to'")
        if not _is_int(req.value) or req.value < 0:
            raise BadRequest("transfer 'value' must be a non-negative integer")
        cmd.update({"from": src, "to": dst, "value": req.value})
    else:
        cmd["key"] = _need_key(req.key)
        if op in ("write", "append"):
            cmd["value"] = req.value
        elif op == "incr":
            if not _is_int(req.value):
                raise BadRequest("incr 'value' must be an integer")
            cmd["value"] = req.value
        elif op == "cas":
            if "old" in extra or "new" in extra:
                cmd["old"], cmd["new"] = extra.get("old"), extra.get("new")
            elif isinstance(req.value, list | tuple) and len(req.value) == 2:
                cmd["old"], cmd["new"] = req.value[0], req.value[1]
            else:
                raise BadRequest("cas needs 'old' and 'new'")
    if req.client_id is not None or req.seq is not None:
        if not isinstance(req.client_id, str) or not _is_int(req.seq):
            raise BadRequest("'client_id' must be a string and 'seq' an integer, together")
        cmd["client_id"], cmd["seq"] = req.client_id, req.seq
    return cmd


Getter = Callable[[str], Any]


def execute(get: Getter, cmd: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run one command against a read-only view; returns (result, changes) where changes
    maps key -> new value (or _DELETE). Shared by apply and preview."""
    op = cmd.get("op")
    if op == "transfer":
        src, dst, amount = cmd["from"], cmd["to"], cmd["value"]
        have_src, have_dst = get(src), get(dst)
        have_src = 0 if have_src is _ABSENT else have_src
        have_dst = 0 if have_dst is _ABSENT else have_dst
        if not _is_int(have_src) or not _is_int(have_dst):
            return _err("precondition-failed", None), {}
        if have_src < amount:
            return _err("precondition-failed", have_src), {}
        if src == dst:
            return _ok(), {}
        return _ok(), {src: have_src - amount, dst: have_dst + amount}
    key = cmd.get("key")
    cur = get(key)
    if op == "read":
        return _ok(None if cur is _ABSENT else cur), {}
    if op == "write":
        return _ok(), {key: cmd.get("value")}
    if op == "cas":
        if cur is _ABSENT:
            return _err("not-found"), {}
        if cur != cmd.get("old"):
            return _err("precondition-failed", cur), {}
        return _ok(), {key: cmd.get("new")}
    if op == "append":
        base = [] if cur is _ABSENT else cur
        if not isinstance(base, list):
            return _err("precondition-failed", base), {}
        new = [*base, cmd.get("value")]
        return _ok(list(new)), {key: new}
    if op == "delete":
        if cur is _ABSENT:
            return _err("not-found"), {}
        return _ok(), {key: _DELETE}
    if op == "incr":
        base = 0 if cur is _ABSENT else cur
        if not _is_int(base):
            return _err("precondition-failed", base), {}
        return _ok(base + cmd["value"]), {key: base + cmd["value"]}
    return _err("bad-request"), {}


class KVStateMachine:
    """The replicated map plus the per-client dedup table."""

    def __init__(self, dedup: bool = True) -> None:
        self.data: dict[str, Any] = {}
        self.sessions: dict[str, list[Any]] = {}  # client_id -> [last seq, its result]
        self.dedup = dedup

    def _get(self, key: str) -> Any:
        return self.data.get(key, _ABSENT)

    def read(self, key: str) -> Any:
        return self.data.get(key)

    def _cached(self, cmd: dict[str, Any]) -> dict[str, Any] | None:
        cid, seq = cmd.get("client_id"), cmd.get("seq")
        if not self.dedup or cid is None or seq is None:
            return None
        session = self.sessions.get(cid)
        if session is None or seq > session[0]:
            return None
        if seq == session[0]:
            return copy.deepcopy(session[1])
        out = _err("bad-request")
        out["message"] = f"stale seq {seq} for client {cid} (last {session[0]})"
        return out

    def apply(self, cmd: dict[str, Any]) -> dict[str, Any]:
        """Apply a committed command; retries of the last (client_id, seq) are not re-run."""
        cached = self._cached(cmd)
        if cached is not None:
            return cached
        result, changes = execute(self._get, cmd)
        for key, value in changes.items():
            if value is _DELETE:
                self.data.pop(key, None)
            else:
                self.data[key] = value
        cid, seq = cmd.get("client_id"), cmd.get("seq")
        if cid is not None and seq is not None:
            self.sessions[cid] = [seq, copy.deepcopy(result)]
        return result

    def preview(self, cmd: dict[str, Any]) -> dict[str, Any]:
        """The result `cmd` would have on the current state, without applying it (used by
        the ack-before-commit bug to answer before the entry commits)."""
        cached = self._cached(cmd)
        if cached is not None:
            return cached
        return execute(self._get, cmd)[0]

    def snapshot(self) -> dict[str, Any]:
        """A JSON-able deep copy of the state (data and dedup table)."""
        return {"data": copy.deepcopy(self.data), "sessions": copy.deepcopy(self.sessions)}

    def restore(self, image: dict[str, Any]) -> None:
        self.data = copy.deepcopy(image.get("data", {}))
        self.sessions = copy.deepcopy(image.get("sessions", {}))
