"""Network partitions: a grudge ({node: nodes it cannot reach}) made real.

Mechanisms, chosen by cluster kind:
- `netns` / `ssh`: blackhole routes (`ip route replace blackhole <peer>/32` on each side)
  or, with mechanism="iptables", DROP rules in our own INPUT chain on each side. After
  applying, every node probes every other (a TCP connect from inside its namespace /
  host) and the blocked set must equal the grudge; after healing, nothing is blocked.
- `local`: all nodes share 127.0.0.1, so only the DB can cut links, through its
  `block_peers(node, peers)` hook (raftnode's /admin/partition).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from harness.core.protocols import Host, RoutesPeerTraffic, RunContext, SupportsBlockPeers
from nemeses import net, topology
from nemeses.base import NemesisError, cluster_kind, host_of, log
from nemeses.fault import Fault
from nemeses.targets import resolve, waiting_leader

VERIFY_TIMEOUT_S = 10.0
MECHANISMS = ("blackhole", "iptables")


class PartitionNemesis(Fault):
    """start-partition {topology, grudge?}; stop-partition heals every cut link."""

    fault = "partition"

    def __init__(
        self, *args: Any, mechanism: str = "blackhole", verify: bool = True, **kwargs: Any
    ):
        super().__init__(*args, **kwargs)
        if mechanism not in MECHANISMS:
            raise NemesisError(
                f"partition mechanism {mechanism!r}: expected one of {', '.join(MECHANISMS)}"
            )
        self.mechanism = mechanism
        self.verify = verify
        self.active: topology.Grudge | None = None

    def _how(self, ctx: RunContext) -> str:
        # A DB that carries its nodes' peer traffic itself (maelstrom) is cut through its
        # hook on every kind: host-level routes would not touch that traffic.
        routed = isinstance(ctx.db, RoutesPeerTraffic) and ctx.db.routes_peer_traffic is True
        if cluster_kind(ctx) == "local" or routed:
            self._hook(ctx)
            return "hook"
        return self.mechanism

    @staticmethod
    def _hook(ctx: RunContext) -> SupportsBlockPeers:
        if not isinstance(ctx.db, SupportsBlockPeers):
            raise NemesisError(
                "partition needs the netns or ssh cluster kind (or a DB with a partition hook)"
            )
        return ctx.db

    def setup(self, ctx: RunContext) -> None:
        how = self._how(ctx)
        if how == "iptables":
            missing = [n for n in ctx.nodes if not net.has_iptables(host_of(ctx, n))]
            if missing:
                raise NemesisError(
                    f"partition with iptables needs iptables on {', '.join(missing)} (Debian package iptables)"
                )
        if how != "hook":
            addresses = [host_of(ctx, n).address for n in ctx.nodes]
            if len(set(addresses)) != len(addresses):
                raise NemesisError(
                    "partition needs a distinct address per node (use the netns kind)"
                )

    def _hosts(self, ctx: RunContext) -> dict[str, Host]:
        return {n: host_of(ctx, n) for n in ctx.nodes}

    def start(self, value: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
        name = value.get("topology", "halves")
        leader = waiting_leader(ctx.leader)  # a leader partition waits for an election
        note = None
        if name == "one" and value.get("node"):
            node = value["node"]
            if node not in ctx.nodes:  # a target word: "leader", "follower", ...
                picked = resolve(node, list(ctx.nodes), self.rng, leader)
                if not picked.nodes:
                    raise NemesisError(f"partition one: {picked.note or 'no node to isolate'}")
                node, note = picked.nodes[0], picked.note
            grudge = topology.isolate(list(ctx.nodes), node)
        else:
            grudge, note = topology.build(
                name, list(ctx.nodes), self.rng, leader, value.get("grudge")
            )
        how = self._how(ctx)
        if self.active is not None:
            self._heal(ctx, how)
        self.active = grudge
        started = time.monotonic()
        self._apply(ctx, how, grudge)
        result: dict[str, Any] = {"topology": name, "grudge": grudge, "mechanism": how}
        if how != "hook" and self.verify and value.get("verify", True):
            result["verified"] = self._verify(ctx, grudge)
        result["apply_s"] = round(time.monotonic() - started, 3)
        if note:
            result["note"] = note
        log(ctx, f"partition {name}: {grudge}")
        return result

    def stop(self, value: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
        how = self._how(ctx)
        healed = self.active
        removed = self._heal(ctx, how)
        self.active = None
        result: dict[str, Any] = {"healed": healed, "mechanism": how, "removed": removed}
        if how != "hook" and self.verify:
            nobody = {n: [] for n in ctx.nodes}
            result["verified"] = self._verify(ctx, nobody)
        return result

    # -- mechanisms -----------------------------------------------------------------
    def _apply(self, ctx: RunContext, how: str, grudge: topology.Grudge) -> None:
        if how == "hook":
            hook = self._hook(ctx)
            for node in ctx.nodes:
                hook.block_peers(node, list(grudge.get(node, [])))
            return
        hosts = self._hosts(ctx)

        def one(node: str) -> None:
            addresses = [hosts[peer].address for peer in grudge.get(node, [])]
            if not addresses:
                return
            if how == "blackhole":
                net.add_blackholes(hosts[node], addresses)
            else:
                net.drop_from(hosts[node], net.PARTITION_CHAIN, addresses)

        _each(one, list(ctx.nodes))

    def _heal(self, ctx: RunContext, how: str) -> dict[str, Any]:
        """Remove every cut this nemesis can make, whether or not it remembers making it."""
        if how == "hook":
            hook = self._hook(ctx)
            for node in ctx.nodes:
                hook.block_peers(node, [])
            return {n: "hook cleared" for n in ctx.nodes}
        hosts = self._hosts(ctx)
        addresses = [h.address for h in hosts.values()]
        removed: dict[str, Any] = {}

        def one(node: str) -> None:
            gone = net.remove_blackholes(hosts[node], addresses)
            rules = net.remove_chain(hosts[node], net.PARTITION_CHAIN)
            if gone or rules:
                removed[node] = {"routes": gone, "rules": rules}

        _each(one, list(ctx.nodes))
        return removed

    def _verify(self, ctx: RunContext, grudge: topology.Grudge) -> bool:
        """Probe until the blocked pairs are exactly the grudge's (or fail loudly)."""
        want = {n: set(grudge.get(n, [])) for n in ctx.nodes}
        deadline = time.monotonic() + VERIFY_TIMEOUT_S
        while True:
            seen = net.probe_all(self._hosts(ctx))
            if seen == want:
                return True
            if time.monotonic() >= deadline:
                wrong = {n: sorted(seen[n]) for n in seen if seen[n] != want[n]}
                raise NemesisError(
                    f"partition not in effect as intended: blocked pairs {wrong}, wanted {grudge}"
                )
            time.sleep(0.2)


def _each(fn: Any, nodes: list[str]) -> None:
    """Run fn(node) for every node in parallel; the first error propagates."""
    with ThreadPoolExecutor(max(1, len(nodes))) as pool:
        for _ in pool.map(fn, nodes):
            pass
