"""What every fault shares: its error type, how to reach a node's host, and the op names.

A nemesis only ever sees the runner's `ctx` (a harness.core.protocols.RunContext, see
docs/interfaces.md §6). The helpers here are the one place that knows how to get from a
node name to its Host, so each fault module stays about its fault.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from harness.core.protocols import ClusterView, HarnessError, Host, RunContext

FAULTS = ("kill", "pause", "partition", "clock", "packet", "disk")
# Faults that act only through the DB (db.kill/start/pause/resume, probes), so they also
# work on a Hostless DB, which has no hosts to run commands on.
HOSTLESS_FAULTS = ("kill", "pause")


class NemesisError(HarnessError):
    """A fault that cannot be applied or verified, or a bad fault parameter; one line for
    the user. ``where`` names the parameter when there is one (``schedule[2].value.topology``),
    kept apart from ``problem`` so the spec can report it under its own field path."""

    def __init__(self, problem: str, *, where: str | None = None) -> None:
        super().__init__(f"{where}: {problem}" if where else problem)
        self.problem = problem
        self.where = where


def start_f(fault: str) -> str:
    return f"start-{fault}"


def stop_f(fault: str) -> str:
    return f"stop-{fault}"


def _cluster(ctx: RunContext) -> ClusterView:
    if ctx.cluster is None:
        raise NemesisError(f"db {ctx.db.name} runs without hosts: this fault needs a cluster")
    return ctx.cluster


def host_of(ctx: RunContext, node: str) -> Host:
    """The Host running `node`."""
    try:
        return _cluster(ctx).hosts[node]
    except KeyError:
        raise NemesisError(f"no host for node {node!r} in the cluster") from None


def cluster_kind(ctx: RunContext) -> str:
    """ "local", "netns" or "ssh": what a fault can cut decides how it works."""
    return _cluster(ctx).kind


def log(ctx: RunContext, message: str) -> None:
    """Write to the test's log."""
    ctx.log.info("nemesis: %s", message)


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll `check` until it is true or `timeout` passes; True if it became true.

    Faults are verified by polling with a deadline rather than sleeping: on a loaded
    machine a kill or a route change can take a moment to become visible."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return True
        except Exception:  # noqa: BLE001 - a failing probe is just "not yet"
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


@dataclass
class Claims:
    """Which nodes a process-level fault (kill, pause, disk) currently holds.

    Shared by the nemeses of one package so that, e.g., pause never picks a node that
    kill has taken down, and disk never corrupts a node another fault is holding."""

    owners: dict[str, str] = field(default_factory=dict)

    def free(self, nodes: list[str]) -> list[str]:
        return [n for n in nodes if n not in self.owners]

    def take(self, owner: str, nodes: list[str]) -> None:
        for node in nodes:
            self.owners[node] = owner

    def release(self, owner: str, nodes: list[str] | None = None) -> None:
        for node in list(self.owners):
            if self.owners[node] == owner and (nodes is None or node in nodes):
                del self.owners[node]

    def held_by(self, owner: str) -> list[str]:
        return sorted(n for n, o in self.owners.items() if o == owner)


def derive_rng(rng: random.Random, label: str) -> random.Random:
    """An independent seeded stream, so adding draws in one place does not shift another."""
    return random.Random(f"{rng.random()!r}/{label}")
