"""PySyncObjDB driven directly on loopback: the raftnode client API over PySyncObj, and a
killed cluster restarting from its journal and dump files with what it acknowledged."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from harness.cluster import open_cluster
from harness.dbs.pysyncobj_db import PySyncObjDB
from harness.dbs.pysyncobj_venv import DEFAULT_VERSION, ensure_venv
from harness.dbs.raftnode_client import RaftnodeClient

pytestmark = pytest.mark.process
NODES = ["n1", "n2", "n3"]
# Small compaction thresholds so the full-dump path (fork, gzip, rename) runs too.
OPTIONS = {"seed": 1, "logCompactionMinEntries": 20, "logCompactionMinTime": 1}


@pytest.fixture
def cluster_db() -> Iterator[PySyncObjDB]:
    ensure_venv(DEFAULT_VERSION)  # built once into ~/.cache/splitbrain (pip, ~10 s)
    cluster = open_cluster("local", NODES)
    db = PySyncObjDB()
    try:
        db.setup(cluster.node_specs(), OPTIONS)
        for node in NODES:
            db.start(node)
        yield db
    finally:
        db.teardown()
        cluster.close()


def until_ok(
    db: PySyncObjDB, node: str, f: str, key, value, timeout: float = 30.0, *, alone: bool = False
):
    """Retry an op until ok (elections, reconnects after a restart take seconds).
    `alone`: no fail-over, so an ok means `node` itself answered."""
    client = db.client(node)
    if alone:
        client = RaftnodeClient(client.host, client.port, node=node)
    deadline = time.monotonic() + timeout
    try:
        while True:
            result = client.invoke(f, key, value, 3.0)
            if result.type == "ok" or time.monotonic() > deadline:
                return result
            time.sleep(0.2)
    finally:
        client.close()


def test_the_client_api_is_raftnodes_over_pysyncobj(cluster_db: PySyncObjDB) -> None:
    db = cluster_db
    assert until_ok(db, "n2", "write", "k", 1).type == "ok"  # through a follower or the leader
    for node in NODES:  # every node connected to the leader (peers retry every 5 s)
        assert until_ok(db, node, "read", "k", None, alone=True).value == 1
    client = db.client("n3")
    # 15 s: the client splits an op's timeout among its fail-over attempts, and one
    # PySyncObj commit on a loaded machine can exceed a third of 5 s (the attempt then
    # counts as ambiguous and a definite answer afterwards is reported indefinite).
    try:
        assert client.invoke("cas", "k", [5, 6], 15.0).error == "precondition-failed"
        assert client.invoke("cas", "absent", [1, 2], 15.0).error == "not-found"
        assert client.invoke("cas", "k", [1, 2], 15.0).type == "ok"
        assert client.invoke("read", "k", None, 15.0).value == 2
        assert client.invoke("append", "a", 7, 15.0).type == "ok"
        assert client.invoke("read", "a", None, 15.0).value == [7]
        assert client.invoke("incr", "c", 3, 15.0).type == "ok"
        assert client.invoke("read", "c", None, 15.0).value == 3
        assert client.invoke("write", "acct0", 10, 15.0).type == "ok"
        move = {"from": "acct0", "to": "acct1", "amount": 50}
        assert client.invoke("transfer", None, move, 15.0).error == "precondition-failed"
    finally:
        client.close()
    status = db.probe("n3", timeout=2.0)  # n3 served ops: it knows a leader and its term
    assert status.reachable and status.raw["version"] == DEFAULT_VERSION
    assert status.term and status.term >= 1 and status.raw["raft_thread_alive"] is True


def test_a_killed_cluster_restarts_with_what_it_persisted(cluster_db: PySyncObjDB) -> None:
    db = cluster_db
    for i in range(40):  # past logCompactionMinEntries: a full dump is written too
        assert until_ok(db, NODES[i % 3], "write", f"k{i % 4}", i).type == "ok"
    time.sleep(2.5)  # the commit index is saved once a second; a dump may be under way
    for node in NODES:
        db.kill(node)
    for node in NODES:
        db.start(node)
    for i in range(36, 40):
        assert until_ok(db, "n1", "read", f"k{i % 4}", None).value == i
    data = db.data_dir("n1")
    host = db._node("n1").spec.host
    listing = host.run(["ls", data]).stdout.split()
    assert "journal.bin" in listing and "journal.bin.meta" in listing
    assert "dump.bin" in listing
