"""Partition topologies as pure functions: nodes in, a grudge out.

A grudge maps every node to the sorted list of nodes it cannot reach. Our mechanisms
(blackhole routes, iptables DROP, the raftnode admin hook) cut a link in both
directions, so every grudge built here is symmetric; an explicit grudge from YAML is
symmetrised the same way. Keeping this free of I/O lets hypothesis check the
properties (majorities ring: everyone sees a majority, no two see the same set).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from nemeses.base import NemesisError
from nemeses.targets import majority_size

Grudge = dict[str, list[str]]

TOPOLOGIES = ("halves", "one", "leader", "majorities-ring", "bridge", "grudge")


def from_cuts(nodes: Sequence[str], cuts: Iterable[tuple[str, str]]) -> Grudge:
    """A symmetric grudge in which exactly the given (unordered) links are cut."""
    grudge: dict[str, set[str]] = {n: set() for n in nodes}
    for a, b in cuts:
        if a != b:
            grudge[a].add(b)
            grudge[b].add(a)
    return {n: sorted(grudge[n]) for n in sorted(nodes)}


def between(nodes: Sequence[str], side_a: Iterable[str], side_b: Iterable[str]) -> Grudge:
    """Cut every link from a node in side_a to a node in side_b."""
    return from_cuts(nodes, ((a, b) for a in side_a for b in side_b))


def halves(nodes: Sequence[str], rng: random.Random) -> Grudge:
    """A random minority half cut off from the majority half."""
    order = sorted(nodes)
    rng.shuffle(order)
    cut = len(order) // 2
    return between(nodes, order[:cut], order[cut:])


def isolate(nodes: Sequence[str], node: str) -> Grudge:
    """`node` cannot reach anyone and no one can reach it."""
    return between(nodes, [node], [n for n in nodes if n != node])


def majorities_ring(nodes: Sequence[str], rng: random.Random) -> Grudge:
    """Every node sees a majority (itself included) and no two nodes see the same set.

    Nodes are placed on a ring in random order and each keeps the links to its r nearest
    neighbours on either side, r = ceil((majority - 1) / 2); all other links are cut. A
    window of 2r+1 < n nodes makes every visible set distinct. For 3 nodes no symmetric
    ring exists, so one link is cut (a line a-b-c: the ends see different majorities)."""
    n = len(nodes)
    if n < 3:
        raise NemesisError(f"majorities-ring needs at least 3 nodes, not {n}")
    order = sorted(nodes)
    rng.shuffle(order)
    if n == 3:
        return from_cuts(nodes, [(order[0], order[2])])
    radius = -(-(majority_size(n) - 1) // 2)
    cuts = []
    for i in range(n):
        for j in range(i + 1, n):
            distance = min(j - i, n - (j - i))
            if distance > radius:
                cuts.append((order[i], order[j]))
    return from_cuts(nodes, cuts)


def bridge(nodes: Sequence[str], rng: random.Random) -> Grudge:
    """Two halves that cannot reach each other, joined by one node that sees both."""
    if len(nodes) < 3:
        raise NemesisError(f"bridge needs at least 3 nodes, not {len(nodes)}")
    order = sorted(nodes)
    rng.shuffle(order)
    rest = order[1:]
    cut = len(rest) // 2
    return between(nodes, rest[:cut], rest[cut:])


def parse_grudge(raw: Any, nodes: Sequence[str], where: str) -> Grudge:
    """Validate an explicit grudge {node: [nodes it cannot reach]} and symmetrise it."""
    if not isinstance(raw, Mapping) or not raw:
        raise NemesisError(
            "a grudge must be a mapping {node: [nodes it cannot reach]}", where=where
        )
    cuts: list[tuple[str, str]] = []
    for node, blocked in raw.items():
        if node not in nodes:
            raise NemesisError(f"unknown node {node!r} (nodes: {', '.join(nodes)})", where=where)
        if isinstance(blocked, str):
            blocked = [blocked]
        if not isinstance(blocked, list) or not all(isinstance(b, str) for b in blocked):
            raise NemesisError("expected a list of node names", where=f"{where}.{node}")
        for other in blocked:
            if other not in nodes:
                raise NemesisError(f"unknown node {other!r}", where=f"{where}.{node}")
            if other == node:
                raise NemesisError("a node cannot be cut off from itself", where=f"{where}.{node}")
            cuts.append((node, other))
    return from_cuts(nodes, cuts)


def build(
    topology: str,
    nodes: Sequence[str],
    rng: random.Random,
    leader: Callable[[], str | None],
    grudge: Any = None,
) -> tuple[Grudge, str | None]:
    """The grudge for a named topology, plus a note when it improvised (no leader)."""
    if topology == "halves":
        return halves(nodes, rng), None
    if topology == "one":
        return isolate(nodes, rng.choice(sorted(nodes))), None
    if topology == "leader":
        who = leader()
        if who is None or who not in nodes:
            pick = rng.choice(sorted(nodes))
            return isolate(nodes, pick), f"no leader known; isolated {pick}"
        return isolate(nodes, who), None
    if topology == "majorities-ring":
        return majorities_ring(nodes, rng), None
    if topology == "bridge":
        return bridge(nodes, rng), None
    if topology == "grudge":
        return parse_grudge(grudge, nodes, "grudge"), None
    raise NemesisError(f"unknown topology {topology!r} (expected one of {', '.join(TOPOLOGIES)})")


def visible(grudge: Grudge, node: str) -> set[str]:
    """The nodes `node` can reach, itself included."""
    return set(grudge) - set(grudge[node])


def cut_pairs(grudge: Grudge) -> list[tuple[str, str]]:
    """Each cut link once, as a sorted pair."""
    return sorted({tuple(sorted((a, b))) for a, blocked in grudge.items() for b in blocked})  # type: ignore[misc]
