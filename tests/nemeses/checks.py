"""Fault scenarios shared by the per-kind test files (local, netns, ssh): the same
fault, observed and healed the same way, whatever Host carries the commands."""

from __future__ import annotations

import random

from nemeses import make_fault, net
from tests.nemeses.fakedb import Ctx


def clock_bump_is_visible_and_reset(ctx: Ctx, node: str = "n2") -> None:
    """A bump shows in the node's own wall clock, bumps add up, stop resets to 0."""
    clock = make_fault("clock", random.Random(5))
    clock.setup(ctx)
    done = clock.invoke("start-clock", {"mode": "bump", "target": node, "offset_ms": 5000}, ctx)
    assert done["offsets_ms"] == {node: 5000.0}
    seen = clock.observe(ctx, node)
    assert seen is not None and abs(seen - 5000) < 1000
    others = [n for n in ctx.nodes if n != node]
    assert abs(clock.observe(ctx, others[0])) < 1000
    done = clock.invoke("start-clock", {"mode": "bump", "target": node, "offset_ms": -2000}, ctx)
    assert done["offsets_ms"] == {node: 3000.0}
    clock.invoke("stop-clock", None, ctx)
    assert abs(clock.observe(ctx, node)) < 1000


def disk_truncate_past_sync_recovers(ctx: Ctx, node: str = "n2") -> None:
    """The WAL is cut past the last fsync the node reported; it restarts and serves."""
    disk = make_fault("disk", random.Random(8))
    done = disk.invoke("start-disk", {"target": node, "corrupt": "truncate"}, ctx)
    assert done["node"] == node and done["outcome"] == "recovered"
    assert done["synced_reported"] <= done["cut_at"] <= done["size"]
    assert ctx.db.probe(node, timeout=5).reachable
    assert disk.invoke("stop-disk", None, ctx)["recovered_untouched"] == [node]


def packet_loss_drops_and_heals(ctx: Ctx, node: str = "n2") -> None:
    """Loss 1.0 around `node` blocks exactly its links; stop and heal-all remove it all."""
    hosts = ctx.cluster.hosts
    clear = {n: set() for n in ctx.nodes}
    packet = make_fault("packet", random.Random(4))
    packet.setup(ctx)
    done = packet.invoke("start-packet", {"target": node, "probability": 1.0}, ctx)
    others = [n for n in ctx.nodes if n != node]
    assert done["lossy"] == {**{n: [node] for n in others}, node: others}
    assert net.probe_all(hosts) == {**{n: {node} for n in others}, node: set(others)}
    packet.invoke("stop-packet", None, ctx)
    assert net.probe_all(hosts) == clear
    packet.invoke("start-packet", {"target": "all", "probability": 0.3}, ctx)
    rules = net.chain_rules(hosts[ctx.nodes[0]], net.LOSS_CHAIN)
    assert len(rules) == len(ctx.nodes) - 1 and all("--probability 0.2999" in r for r in rules)
    packet.heal_all(ctx)
    assert net.chain_rules(hosts[ctx.nodes[0]], net.LOSS_CHAIN) == []
