"""Fixtures for the etcd adapter tests: a real single-member etcd on loopback.

Needs Debian's etcd-server (.ci/setup installs it); without it these tests skip with
that reason. The member is started through EtcdDB on a `local` cluster and always torn
down (by pid) when the module's tests are done, also when one fails.
"""

from __future__ import annotations

import shutil

import pytest

from harness.cluster import open_cluster
from harness.dbs.etcd import EtcdDB
from tests.e2e.conftest import store  # noqa: F401 - the e2e store fixture (removes labs)

HAS_ETCD = shutil.which("etcd") is not None
requires_etcd = pytest.mark.skipif(
    not HAS_ETCD, reason="needs etcd (Debian package etcd-server; .ci/setup installs it)"
)


@pytest.fixture(scope="module")
def single_etcd():
    """(db, node) for one etcd member that is up and leading."""
    if not HAS_ETCD:
        pytest.skip("needs etcd (Debian package etcd-server; .ci/setup installs it)")
    db = EtcdDB()
    with open_cluster("local", ["n1"]) as cluster:
        try:
            db.setup(cluster.node_specs(), {})
            db.start("n1")
            yield db, "n1"
        finally:
            db.teardown()
