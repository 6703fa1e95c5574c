"""Process faults: SIGKILL with restart (`kill`) and SIGSTOP/SIGCONT (`pause`).

Both go through the DB (`db.kill`, `db.start`, `db.pause`, `db.resume`) because only
the DB knows how its nodes are started; the nemesis picks the targets, records them,
and checks the effect itself: a killed node is no longer running (and its pid is gone),
a paused node's process is in state "T", and both come back when healed.
"""

from __future__ import annotations

from typing import Any

from harness.core.protocols import RunContext
from nemeses.base import NemesisError, host_of, log, wait_until
from nemeses.fault import Fault, is_running, node_pid, process_state, with_note

VERIFY_TIMEOUT_S = 15.0


class KillNemesis(Fault):
    """start-kill {target}: SIGKILL the targets; stop-kill: restart what it killed."""

    fault = "kill"

    def start(self, value: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
        resolved = self.pick(value, ctx, self.running_free(ctx))
        killed, pids = [], {}
        for node in resolved.nodes:
            pid = node_pid(ctx, node)
            self.claims.take(self.fault, [node])
            ctx.db.kill(node)
            gone = wait_until(lambda n=node: not is_running(ctx, n), VERIFY_TIMEOUT_S)
            if pid is not None:
                host = host_of(ctx, node)
                gone = gone and wait_until(
                    lambda h=host, p=pid: not h.is_alive(p), VERIFY_TIMEOUT_S
                )
                pids[node] = pid
            if not gone:
                raise NemesisError(f"kill {node}: the process is still running after SIGKILL")
            killed.append(node)
        log(ctx, f"killed {killed}")
        return with_note(
            {"target": value.get("target", "one"), "nodes": killed, "pids": pids}, resolved
        )

    def stop(self, value: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
        held = self.claims.held_by(self.fault)
        restarted = restart(ctx, held)
        self.claims.release(self.fault, held)
        return {"nodes": restarted}

    def heal_all(self, ctx: RunContext) -> None:
        """Restart every node that is down and not held by another fault (disk heals its
        own), so a crashed schedule still ends with the whole cluster up."""
        self.stop({}, ctx)
        others = set(self.claims.owners)
        restart(ctx, [n for n in ctx.nodes if n not in others and not is_running(ctx, n)])


def restart(ctx: RunContext, nodes: list[str]) -> list[str]:
    """db.start each node and wait until it runs. Every node is tried even when one
    fails (a heal must not stop half way); then one error names all that did not."""
    started, failed = [], []
    for node in nodes:
        try:
            if not is_running(ctx, node):
                ctx.db.start(node)
            if not wait_until(lambda n=node: is_running(ctx, n), VERIFY_TIMEOUT_S):
                raise NemesisError("the node did not come back")
            started.append(node)
        except Exception as exc:  # noqa: BLE001 - collected and raised below
            failed.append(f"{node}: {exc}")
    if started:
        log(ctx, f"restarted {started}")
    if failed:
        raise NemesisError("restart failed for " + "; ".join(failed))
    return started


class PauseNemesis(Fault):
    """start-pause {target}: SIGSTOP the targets; stop-pause: SIGCONT them."""

    fault = "pause"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pids: dict[str, int | None] = {}

    def start(self, value: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
        resolved = self.pick(value, ctx, self.running_free(ctx))
        states: dict[str, str | None] = {}
        for node in resolved.nodes:
            pid = node_pid(ctx, node)
            self.pids[node] = pid
            self.claims.take(self.fault, [node])
            ctx.db.pause(node)
            if pid is not None:
                if not wait_until(
                    lambda n=node, p=pid: process_state(ctx, n, p) == "T", VERIFY_TIMEOUT_S
                ):
                    raise NemesisError(
                        f"pause {node}: process {pid} is not stopped (state {process_state(ctx, node, pid)})"
                    )
                states[node] = "T"
            else:
                states[node] = None
        log(ctx, f"paused {resolved.nodes}")
        return with_note(
            {"target": value.get("target", "one"), "nodes": resolved.nodes, "states": states},
            resolved,
        )

    def stop(self, value: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
        held = self.claims.held_by(self.fault)
        states: dict[str, str | None] = {}
        for node in held:
            ctx.db.resume(node)
            pid = self.pids.pop(node, None)
            if pid is not None:
                if not wait_until(
                    lambda n=node, p=pid: process_state(ctx, n, p) != "T", VERIFY_TIMEOUT_S
                ):
                    raise NemesisError(f"resume {node}: process {pid} is still stopped")
                states[node] = process_state(ctx, node, pid)
        self.claims.release(self.fault, held)
        return {"nodes": held, "states": states}
