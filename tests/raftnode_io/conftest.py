"""Shared fixtures for the raftnode process tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from raftnode.testing import LoopbackCluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackCluster]:
    """One 3-node cluster per test module that asks for it (authenticated peers, a fresh
    token). A longer election timeout than the default: on a loaded machine, starved
    heartbeats would otherwise cause elections in the middle of a test (which it then
    retries)."""
    root = tmp_path_factory.mktemp("c3")
    with LoopbackCluster(root, n=3, election_ms=1000, heartbeat_ms=100) as c:
        c.wait_leader(timeout=60)
        yield c
