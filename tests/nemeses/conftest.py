"""Fixtures for nemesis tests: stub-node clusters on local and netns hosts.

Every fixture stops the processes it started (by pid, through the DB) and removes the
namespaces it created in its finalizer, also when the test fails.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.hosts import netns
from harness.hosts.local import LocalHost
from tests.conftest import NETNS_REASON, can_admin_network
from tests.nemeses.fakedb import Cluster, Ctx, StubDB

NODES = ["n1", "n2", "n3"]


def _start(db: StubDB) -> None:
    for node in db.hosts:
        db.start(node)


@pytest.fixture
def local_ctx(tmp_path: Path) -> Iterator[Ctx]:
    """Three stub nodes on 127.0.0.1 under libfaketime; n1 says it is the leader."""
    hosts = {n: LocalHost(n) for n in NODES}
    db = StubDB(hosts, tmp_path, faketime=True, leader="n1")
    try:
        _start(db)
        yield Ctx(Cluster(hosts, "local"), db, list(NODES), random.Random(7))
    finally:
        db.teardown()


@pytest.fixture
def netns_ctx(tmp_path: Path) -> Iterator[Ctx]:
    """Three stub nodes, each in its own network namespace of a fresh lab."""
    yield from _netns_ctx(tmp_path, faketime=False)


@pytest.fixture
def netns_faketime_ctx(tmp_path: Path) -> Iterator[Ctx]:
    """As netns_ctx, with the stub nodes under libfaketime (for clock faults)."""
    yield from _netns_ctx(tmp_path, faketime=True)


def _netns_ctx(tmp_path: Path, *, faketime: bool) -> Iterator[Ctx]:
    ok, why = can_admin_network()
    if not ok:
        pytest.skip(f"{NETNS_REASON}: {why}")
    record = netns.create_lab(NODES)
    db = None
    try:
        hosts = netns.hosts_for(record)
        db = StubDB(hosts, tmp_path, faketime=faketime, leader="n1")
        _start(db)
        yield Ctx(Cluster(hosts, "netns"), db, list(NODES), random.Random(7))
    finally:
        if db is not None:
            db.teardown()
        netns.destroy_lab(record.name)
