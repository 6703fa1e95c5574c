"""What every fault shares: its error type, how to reach a node's host, and the op names.

A nemesis only ever sees the runner's `ctx` (harness.context.TestContext, see
docs/interfaces.md §6). The helpers here are the one place that knows how to get from a
node name to its Host and from the context to the DB, so each fault module stays about
its fault.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.core.protocols import HarnessError, Host

FAULTS = ("kill", "pause", "partition", "clock", "packet", "disk")


class NemesisError(HarnessError):
    """A fault that cannot be applied or verified; one line for the user."""


def start_f(fault: str) -> str:
    return f"start-{fault}"


def stop_f(fault: str) -> str:
    return f"stop-{fault}"


def host_of(ctx: Any, node: str) -> Host:
    """The Host running `node`, whatever shape the cluster object has."""
    cluster = ctx.cluster
    hosts = getattr(cluster, "hosts", None)
    if isinstance(hosts, dict) and node in hosts:
        return hosts[node]
    getter = getattr(cluster, "host", None)
    if callable(getter):
        return getter(node)
    try:
        return cluster[node]
    except (TypeError, KeyError) as exc:
        raise NemesisError(f"no host for node {node!r} in the cluster") from exc


def cluster_kind(ctx: Any) -> str:
    kind = getattr(ctx.cluster, "kind", None)
    if kind is None and ctx.nodes:
        kind = getattr(host_of(ctx, ctx.nodes[0]), "kind", "local")
    return str(kind or "local")


def log(ctx: Any, message: str) -> None:
    """Write to the test's log when it has one (a logging.Logger or a callable)."""
    logger = getattr(ctx, "log", None)
    if logger is None:
        return
    if hasattr(logger, "info"):
        logger.info("nemesis: %s", message)
    elif callable(logger):
        logger(f"nemesis: {message}")


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
