"""Probabilistic packet loss between chosen nodes (iptables statistic match).

start-packet {target, probability}: every link with an end among the targets loses
packets with that probability in both directions: each side drops incoming packets from
the other (`-m statistic --mode random --probability P -j DROP` in our own INPUT chain).
stop-packet removes the chain. Needs a network per node, so not on the `local` kind.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from harness.core.protocols import RunContext
from nemeses import net
from nemeses.base import NemesisError, cluster_kind, host_of, log
from nemeses.fault import Fault, with_note


class PacketNemesis(Fault):
    fault = "packet"

    def setup(self, ctx: RunContext) -> None:
        if cluster_kind(ctx) == "local":
            raise NemesisError(
                "packet needs the netns or ssh cluster kind (local nodes share one network stack)"
            )
        missing = [n for n in ctx.nodes if not net.has_iptables(host_of(ctx, n))]
        if missing:
            raise NemesisError(
                f"packet needs iptables on {', '.join(missing)} (Debian package iptables)"
            )

    def start(self, value: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
        probability = float(value.get("probability", 0.2))
        if not 0.0 < probability <= 1.0:
            raise NemesisError(f"packet: probability must be in (0, 1], not {probability}")
        self._clear(ctx)
        resolved = self.pick(value, ctx, list(ctx.nodes))
        chosen = set(resolved.nodes)
        lossy = {
            n: sorted(m for m in ctx.nodes if m != n and (n in chosen or m in chosen))
            for n in ctx.nodes
        }
        hosts = {n: host_of(ctx, n) for n in ctx.nodes}

        def one(node: str) -> int:
            peers = lossy[node]
            if peers:
                net.drop_from(
                    hosts[node], net.LOSS_CHAIN, [hosts[p].address for p in peers], probability
                )
            return len(net.chain_rules(hosts[node], net.LOSS_CHAIN))

        with ThreadPoolExecutor(max(1, len(hosts))) as pool:
            counts = dict(zip(ctx.nodes, pool.map(one, list(ctx.nodes)), strict=True))
        wrong = {n: counts[n] for n in ctx.nodes if counts[n] != len(lossy[n])}
        if wrong:
            raise NemesisError(f"packet: iptables rules not in place on {sorted(wrong)}")
        log(ctx, f"packet loss {probability} on links of {sorted(chosen)}")
        result = {
            "target": value.get("target", "one"),
            "nodes": sorted(chosen),
            "probability": probability,
            "lossy": {n: p for n, p in lossy.items() if p},
            "rules": counts,
        }
        return with_note(result, resolved)

    def _clear(self, ctx: RunContext) -> dict[str, int]:
        hosts = {n: host_of(ctx, n) for n in ctx.nodes}
        with ThreadPoolExecutor(max(1, len(hosts))) as pool:
            removed = dict(
                zip(
                    ctx.nodes,
                    pool.map(lambda n: net.remove_chain(hosts[n], net.LOSS_CHAIN), list(ctx.nodes)),
                    strict=True,
                )
            )
        return {n: c for n, c in removed.items() if c}

    def stop(self, value: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
        return {"removed_rules": self._clear(ctx)}

    def heal_all(self, ctx: RunContext) -> None:
        if cluster_kind(ctx) != "local":
            self._clear(ctx)
