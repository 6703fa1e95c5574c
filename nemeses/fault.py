"""The base class of every fault family: one start op, one stop op, an idempotent heal.

Subclasses implement `start(value, ctx)` and `stop(value, ctx)`, each returning a dict
that says exactly which nodes were touched and what was done (the runner records it as
the nemesis completion's value), and `heal_all(ctx)`. The base class maps the op names
(`start-<fault>`, `stop-<fault>`) to those methods.
"""

from __future__ import annotations

import random
from typing import Any

from harness.core.protocols import RunContext, SupportsPid
from nemeses.base import Claims, NemesisError, host_of, start_f, stop_f
from nemeses.targets import Resolved, resolve, waiting_leader


class Fault:
    """One family of faults (implements harness.core.protocols.Nemesis)."""

    fault = "fault"

    def __init__(self, rng: random.Random | None = None, claims: Claims | None = None) -> None:
        self.rng = rng or random.Random(0)
        self.claims = claims or Claims()
        self.name = self.fault
        self.fs: tuple[str, ...] = (start_f(self.fault), stop_f(self.fault))

    # -- the Nemesis protocol -------------------------------------------------------
    def setup(self, ctx: RunContext) -> None:
        """Check that this fault can work on this cluster and DB, before the test runs."""

    def invoke(self, f: str, value: Any, ctx: RunContext) -> dict[str, Any]:
        if f == start_f(self.fault):
            return self.start(value or {}, ctx)
        if f == stop_f(self.fault):
            return self.stop(value or {}, ctx)
        raise NemesisError(f"{self.fault} nemesis does not handle {f!r}")

    def heal_all(self, ctx: RunContext) -> None:
        self.stop({}, ctx)

    def teardown(self, ctx: RunContext) -> None:
        """Release anything setup acquired; healing is heal_all's job."""

    # -- for subclasses -------------------------------------------------------------
    def start(self, value: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
        raise NotImplementedError

    def stop(self, value: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
        raise NotImplementedError

    def running_free(self, ctx: RunContext) -> list[str]:
        """Nodes that are up and held by no other process-level fault."""
        return [n for n in self.claims.free(list(ctx.nodes)) if is_running(ctx, n)]

    def pick(self, value: dict[str, Any], ctx: RunContext, available: list[str]) -> Resolved:
        """The nodes `value["target"]` names now; a leader target waits for an election."""
        spec = value.get("target", "one")
        leader = waiting_leader(ctx.leader) if spec in ("leader", "primaries") else ctx.leader
        return resolve(spec, list(ctx.nodes), self.rng, leader, available=available)


def is_running(ctx: RunContext, node: str) -> bool:
    try:
        return bool(ctx.db.is_running(node))
    except Exception:  # noqa: BLE001 - a DB that cannot tell counts the node as down
        return False


def node_pid(ctx: RunContext, node: str) -> int | None:
    """The node's process id if the DB tells (SupportsPid, or "pid" in its status)."""
    if isinstance(ctx.db, SupportsPid):
        try:
            pid = ctx.db.pid(node)
            if pid:
                return int(pid)
        except Exception:  # noqa: BLE001 - fall back to the status endpoint
            pass
    try:
        raw = ctx.db.probe(node, timeout=2.0).raw or {}
    except Exception:  # noqa: BLE001
        return None
    pid = raw.get("pid")
    return int(pid) if isinstance(pid, int) else None


def process_state(ctx: RunContext, node: str, pid: int | None) -> str | None:
    if pid is None:
        return None
    return host_of(ctx, node).process_state(pid)


def with_note(result: dict[str, Any], resolved: Resolved) -> dict[str, Any]:
    if resolved.note:
        result["note"] = resolved.note
    return result
