"""Packet faults between chosen nodes: probabilistic loss (iptables) or message chaos.

start-packet {target, mode, ...}: every link with an end among the targets is affected.

- mode `loss` (iptables statistic match): each side drops incoming packets from the
  other with `probability` (`-m statistic --mode random --probability P -j DROP` in our
  own INPUT chain). Needs a network per node, so not on the `local` kind.
- mode `chaos` (the DB's SupportsPeerShaping hook, raftnode's POST /admin/network):
  whole Raft messages are dropped, duplicated, delayed and reordered with the
  probabilities `drop`, `duplicate`, `delay`, `reorder` (`delay_ms`, `reorder_ms`). What
  TCP never does to a stream — a stale AppendEntries arriving twice or after a newer one
  — is what figure-8 and log-truncation bugs need. Works on every cluster kind; the DB
  re-applies it when a node restarts.

Without `mode`, `loss` where iptables can be used, else `chaos` with `drop` =
`probability`. stop-packet removes both.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from harness.core.protocols import RunContext, peer_shaper
from nemeses import net
from nemeses.base import NemesisError, cluster_kind, host_of, log
from nemeses.fault import Fault, with_note

MODES = ("loss", "chaos")
CHAOS_FIELDS = ("drop", "duplicate", "delay", "reorder", "delay_ms", "reorder_ms")


def can_chaos(ctx: RunContext) -> bool:
    """Whether the packet nemesis's chaos mode works with this DB."""
    return peer_shaper(ctx.db) is not None


class PacketNemesis(Fault):
    fault = "packet"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.iptables: bool | None = None  # None: setup has not looked yet
        self.shaped: set[str] = set()

    def setup(self, ctx: RunContext) -> None:
        self.iptables = False
        problem = None
        if cluster_kind(ctx) == "local":
            problem = (
                "packet needs the netns or ssh cluster kind (local nodes share one network stack)"
            )
        else:
            missing = [n for n in ctx.nodes if not net.has_iptables(host_of(ctx, n))]
            if missing:
                problem = f"packet needs iptables on {', '.join(missing)} (Debian package iptables)"
            else:
                self.iptables = True
        if problem and not can_chaos(ctx):
            raise NemesisError(problem + ", or a DB that shapes peer messages (chaos mode)")

    def start(self, value: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
        mode = value.get("mode") or ("loss" if self._iptables_ok(ctx) else "chaos")
        if mode not in MODES:
            raise NemesisError(
                f"packet: unknown mode {mode!r} (expected one of {', '.join(MODES)})"
            )
        self._clear(ctx)
        resolved = self.pick(value, ctx, list(ctx.nodes))
        chosen = set(resolved.nodes)
        lossy = {
            n: sorted(m for m in ctx.nodes if m != n and (n in chosen or m in chosen))
            for n in ctx.nodes
        }
        if mode == "chaos":
            result = self._start_chaos(value, ctx, lossy)
        else:
            result = self._start_loss(value, ctx, lossy)
        result.update(target=value.get("target", "one"), nodes=sorted(chosen), mode=mode)
        return with_note(result, resolved)

    def _iptables_ok(self, ctx: RunContext) -> bool:
        """iptables rules can be (or may have been) used: as found by setup, or, before
        any setup (a heal from elsewhere), on every kind but local, as always."""
        return self.iptables is not False and cluster_kind(ctx) != "local"

    def _start_loss(
        self, value: dict[str, Any], ctx: RunContext, lossy: dict[str, list[str]]
    ) -> dict[str, Any]:
        if not self._iptables_ok(ctx):
            raise NemesisError("packet mode loss needs iptables on the netns or ssh kind")
        probability = float(value.get("probability", 0.2))
        if not 0.0 < probability <= 1.0:
            raise NemesisError(f"packet: probability must be in (0, 1], not {probability}")
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
        log(ctx, f"packet loss {probability} on links of {sorted(n for n in lossy if lossy[n])}")
        return {
            "probability": probability,
            "lossy": {n: p for n, p in lossy.items() if p},
            "rules": counts,
        }

    def _start_chaos(
        self, value: dict[str, Any], ctx: RunContext, lossy: dict[str, list[str]]
    ) -> dict[str, Any]:
        shaper = peer_shaper(ctx.db)
        if shaper is None:
            raise NemesisError(f"packet mode chaos: db {ctx.db.name} cannot shape peer messages")
        settings = {k: float(value[k]) for k in CHAOS_FIELDS if k in value}
        if not any(k in settings for k in ("drop", "duplicate", "delay", "reorder")):
            settings["drop"] = float(value.get("probability", 0.2))
        applied: dict[str, Any] = {}
        for node in ctx.nodes:
            if lossy[node]:
                one = {**settings, "peers": lossy[node]}
                shaper.shape_peers(node, one)
                self.shaped.add(node)
                applied[node] = lossy[node]
        log(ctx, f"packet chaos {settings} on links {applied}")
        return {"chaos": settings, "lossy": applied}

    def _clear(self, ctx: RunContext) -> dict[str, Any]:
        removed: dict[str, Any] = {}
        if self._iptables_ok(ctx):
            hosts = {n: host_of(ctx, n) for n in ctx.nodes}
            with ThreadPoolExecutor(max(1, len(hosts))) as pool:
                counts = dict(
                    zip(
                        ctx.nodes,
                        pool.map(
                            lambda n: net.remove_chain(hosts[n], net.LOSS_CHAIN), list(ctx.nodes)
                        ),
                        strict=True,
                    )
                )
            removed.update({n: c for n, c in counts.items() if c})
        shaper = peer_shaper(ctx.db)
        if shaper is not None and self.shaped:
            errors = []
            for node in sorted(self.shaped):
                try:
                    shaper.shape_peers(node, None)
                    removed[node] = "chaos off"
                except Exception as exc:  # noqa: BLE001 - clear the others, then report
                    errors.append(f"{node}: {exc}")
            self.shaped = set()
            if errors:
                raise NemesisError("packet: could not turn chaos off on " + "; ".join(errors))
        return removed

    def stop(self, value: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
        return {"removed_rules": self._clear(ctx)}

    def heal_all(self, ctx: RunContext) -> None:
        self._clear(ctx)
