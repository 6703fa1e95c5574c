"""Target specs resolve to the right number of nodes, from what is available."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nemeses.base import NemesisError
from nemeses.targets import resolve, validate_target

node_lists = st.integers(min_value=1, max_value=9).map(lambda n: [f"n{i}" for i in range(1, n + 1)])


@given(node_lists, st.integers(0, 1000))
def test_sizes_relative_to_cluster(nodes, seed):
    n = len(nodes)
    rng = random.Random(seed)

    def count(spec):
        return len(resolve(spec, nodes, rng, lambda: None).nodes)

    assert count("one") == 1
    assert count("all") == n
    assert count("majority") == min(n, n // 2 + 1)
    assert count("minority") == min(n, max(1, (n - 1) // 2))
    assert count("minority-third") == min(n, max(1, (n - 1) // 3))
    assert count("minority") < n // 2 + 1 or n <= 2


def test_leader_and_primaries_pick_the_leader():
    nodes = ["n1", "n2", "n3"]
    assert resolve("leader", nodes, random.Random(0), lambda: "n3").nodes == ["n3"]
    assert resolve("primaries", nodes, random.Random(0), lambda: "n2").nodes == ["n2"]


def test_unavailable_nodes_are_skipped_and_noted():
    nodes = ["n1", "n2", "n3", "n4", "n5"]
    got = resolve("majority", nodes, random.Random(0), lambda: None, available=["n1", "n2"])
    assert got.nodes == ["n1", "n2"] and "only 2 available" in got.note
    got = resolve("leader", nodes, random.Random(0), lambda: "n5", available=["n1"])
    assert got.nodes == ["n1"] and "n5 unavailable" in got.note
    assert resolve(["n2", "n4"], nodes, random.Random(0), lambda: None, available=["n2"]).nodes == [
        "n2"
    ]


def test_validation_names_the_field():
    with pytest.raises(NemesisError, match="schedule\\[0\\].target: unknown target 'leadr'"):
        validate_target("leadr", ["n1"], "schedule[0].target")
    with pytest.raises(NemesisError, match="unknown node"):
        validate_target(["n1", "n8"], ["n1", "n2"], "x")
    validate_target("n4", None, "x")  # nodes not known yet: shaped like n1..nN
