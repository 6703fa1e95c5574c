"""Partition topologies: properties over 3-9 nodes (hypothesis) and explicit grudges."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nemeses import topology
from nemeses.base import NemesisError
from nemeses.targets import majority_size

node_lists = st.integers(min_value=3, max_value=9).map(lambda n: [f"n{i}" for i in range(1, n + 1)])
seeds = st.integers(min_value=0, max_value=2**32)


def symmetric(grudge: topology.Grudge) -> bool:
    return all(a in grudge[b] for a, blocked in grudge.items() for b in blocked)


@given(node_lists, seeds)
def test_majorities_ring_every_node_sees_a_distinct_majority(nodes, seed):
    grudge = topology.majorities_ring(nodes, random.Random(seed))
    assert sorted(grudge) == sorted(nodes)
    assert symmetric(grudge)
    views = [frozenset(topology.visible(grudge, n)) for n in nodes]
    assert all(len(v) >= majority_size(len(nodes)) for v in views)
    assert len(set(views)) == len(nodes), "two nodes see the same set"
    assert all(n in topology.visible(grudge, n) for n in nodes)


@given(node_lists, seeds)
def test_bridge_has_one_node_seeing_everyone_and_two_cut_halves(nodes, seed):
    grudge = topology.bridge(nodes, random.Random(seed))
    assert symmetric(grudge)
    bridges = [n for n in nodes if not grudge[n]]
    assert len(bridges) >= 1
    others = [n for n in nodes if grudge[n]]
    assert len(others) == len(nodes) - 1
    sides = {frozenset(topology.visible(grudge, n)) for n in others}
    assert len(sides) == 2
    side_a, side_b = sides
    assert side_a & side_b == {bridges[0]}
    assert side_a | side_b == set(nodes)


@given(node_lists, seeds)
def test_halves_cut_a_minority_from_a_majority(nodes, seed):
    grudge = topology.halves(nodes, random.Random(seed))
    assert symmetric(grudge)
    sizes = sorted({len(topology.visible(grudge, n)) for n in nodes})
    assert sizes == sorted({len(nodes) // 2, len(nodes) - len(nodes) // 2})
    cut = topology.cut_pairs(grudge)
    assert len(cut) == (len(nodes) // 2) * (len(nodes) - len(nodes) // 2)


@given(node_lists, st.data())
def test_isolate_cuts_exactly_one_node(nodes, data):
    victim = data.draw(st.sampled_from(nodes))
    grudge = topology.isolate(nodes, victim)
    assert topology.visible(grudge, victim) == {victim}
    assert all(topology.visible(grudge, n) == set(nodes) - {victim} for n in nodes if n != victim)


def test_same_seed_same_topology():
    nodes = [f"n{i}" for i in range(1, 8)]
    assert topology.majorities_ring(nodes, random.Random(3)) == topology.majorities_ring(
        nodes, random.Random(3)
    )
    assert topology.bridge(nodes, random.Random(3)) == topology.bridge(nodes, random.Random(3))


def test_leader_topology_isolates_the_leader_or_says_why_not():
    nodes = ["n1", "n2", "n3"]
    grudge, note = topology.build("leader", nodes, random.Random(0), lambda: "n2")
    assert grudge["n2"] == ["n1", "n3"] and note is None
    grudge, note = topology.build("leader", nodes, random.Random(0), lambda: None)
    assert note and "no leader" in note
    assert sum(1 for n in nodes if len(grudge[n]) == 2) == 1


def test_explicit_grudge_is_symmetrised():
    grudge = topology.parse_grudge({"n1": ["n2", "n3"]}, ["n1", "n2", "n3"], "grudge")
    assert grudge == {"n1": ["n2", "n3"], "n2": ["n1"], "n3": ["n1"]}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"n9": ["n1"]}, "unknown node 'n9'"),
        ({"n1": ["n7"]}, r"grudge.n1: unknown node 'n7'"),
        ({"n1": ["n1"]}, "cut off from itself"),
        ({"n1": 3}, "expected a list"),
        ([], "must be a mapping"),
    ],
)
def test_bad_grudges_name_the_field(raw, message):
    with pytest.raises(NemesisError, match=message):
        topology.parse_grudge(raw, ["n1", "n2", "n3"], "grudge")


def test_rings_and_bridges_need_three_nodes():
    with pytest.raises(NemesisError, match="at least 3"):
        topology.majorities_ring(["n1", "n2"], random.Random(0))
    with pytest.raises(NemesisError, match="at least 3"):
        topology.bridge(["n1", "n2"], random.Random(0))
