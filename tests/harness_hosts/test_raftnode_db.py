"""RaftnodeDB on real node processes, on loopback and in a netns lab."""

from __future__ import annotations

import socket
import time

import pytest

from harness.cluster import open_cluster
from harness.core.faketime import FAKETIME_LIB
from harness.core.protocols import HostError
from harness.dbs.raftnode import RaftnodeDB
from harness.dbs.raftnode_client import get_json
from harness.hosts import procs
from tests.conftest import requires_command, requires_netns
from tests.harness_hosts.conftest import wait_for

pytestmark = pytest.mark.process


KINDS = ["local", pytest.param("netns", marks=[pytest.mark.root, requires_netns])]
NODES = ["n1", "n2", "n3"]


def leader_of(db: RaftnodeDB, nodes: list[str], timeout: float = 30.0) -> str | None:
    found: list[str] = []

    def check() -> bool:
        probes = [db.probe(n, timeout=2.0) for n in nodes]
        leaders = [p.node for p in probes if p.role == "leader"]
        found[:] = leaders
        return len(leaders) == 1

    return found[0] if wait_for(check, timeout, interval=0.1) else None


TRANSIENT = ("unavailable", "not-leader", "timeout")


def until_ok(client, f: str, key, value, timeout: float = 30.0):
    """Retry an op that failed only because leadership moved (a loaded CI machine)."""
    deadline = time.monotonic() + timeout
    result = client.invoke(f, key, value, 5.0)
    while result.type == "fail" and time.monotonic() < deadline:
        if not (result.error in TRANSIENT or str(result.error).startswith("connect")):
            break
        time.sleep(0.2)
        result = client.invoke(f, key, value, 5.0)
    return result


@pytest.fixture(params=KINDS)
def raft(request):
    cluster = open_cluster(request.param, NODES)
    db = RaftnodeDB()
    started: list[int] = []
    try:
        db.setup(cluster.node_specs(), {"election_ms": 600, "heartbeat_ms": 50})
        for node in NODES:
            db.start(node)
            started.append(db.pid(node))
        yield cluster, db, started
    finally:
        db.teardown()
        for pid in started:  # belt and braces: nothing may survive a failed test
            procs.kill_and_wait(pid)
        cluster.close()


def test_leader_and_write_read_round_trip(raft):
    cluster, db, _ = raft
    leader = leader_of(db, NODES)
    assert leader is not None
    probe = db.probe(leader)
    assert probe.reachable and probe.term >= 1 and probe.clock_ns > 0
    follower = next(n for n in NODES if n != leader)
    client = db.client(follower)  # followers forward to the leader
    try:
        assert until_ok(client, "write", "k", 42).type == "ok"
        assert until_ok(client, "read", "k", None).value == 42
        assert until_ok(client, "cas", "k", [42, 43]).type == "ok"
        refused = until_ok(client, "cas", "k", [42, 44])
        assert (refused.type, refused.error) == ("fail", "precondition-failed")
        assert until_ok(db.client(leader), "read", "k", None).value == 43
    finally:
        client.close()


def test_kill_pause_resume_and_restart(raft):
    cluster, db, _ = raft
    leader = leader_of(db, NODES)
    assert leader is not None
    pid = db.pid(leader)
    db.kill(leader)
    assert not db.is_running(leader) and procs.process_state(pid) in (None, "Z")
    rest = [n for n in NODES if n != leader]
    new_leader = leader_of(db, rest)
    assert new_leader in rest
    db.start(leader)
    assert db.is_running(leader) and db.pid(leader) != pid
    victim = next(n for n in NODES if n != new_leader)
    db.pause(victim)
    host = cluster.hosts[victim]
    assert wait_for(lambda: host.process_state(db.pid(victim)) == "T")
    assert not db.probe(victim, timeout=0.5).reachable
    db.resume(victim)
    assert wait_for(lambda: db.probe(victim, timeout=1.0).reachable)


def test_teardown_leaves_no_process_and_logs_are_listed(raft):
    cluster, db, started = raft
    assert leader_of(db, NODES) is not None
    files = db.log_files("n1")
    assert set(files) >= {"node.log", "events.jsonl"}
    host = cluster.hosts["n1"]
    assert host.read_file(files["events.jsonl"])  # the node wrote events
    if "dump.json" in files:
        assert b"hard_state" in host.read_file(files["dump.json"])
    db.teardown()
    assert all(procs.process_state(pid) in (None, "Z") for pid in started)
    assert not any(db.is_running(n) for n in NODES)
    db.teardown()  # safe twice


def test_port_in_use_is_a_clear_error_naming_host_and_command():
    cluster = open_cluster("local", ["n1"])
    db = RaftnodeDB(start_timeout=30)
    blocker = socket.socket()
    try:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        (spec,) = cluster.node_specs()
        spec.client_port = blocker.getsockname()[1]
        # Something else already listens on the client port: the node cannot bind and
        # the error must say which host and command failed.
        db.setup([spec], {})
        with pytest.raises(HostError) as info:
            db.start("n1")
        message = str(info.value)
        assert message.startswith("host n1: ") and "-m raftnode --id n1" in message
        assert not db.is_running("n1")
    finally:
        blocker.close()
        db.teardown()
        cluster.close()


def test_block_peers_sets_the_admin_partition():
    with open_cluster("local", NODES) as cluster:
        db = RaftnodeDB()
        try:
            specs = cluster.node_specs()
            db.setup(specs, {})
            for node in NODES:
                db.start(node)
            db.block_peers("n1", ["n2", "n3"])
            status, body = get_json("127.0.0.1", specs[0].client_port, "/admin/partition", 5.0)
            assert status == 200 and sorted(body["drop"]) == ["n2", "n3"]
            db.block_peers("n1", [])
            assert (
                get_json("127.0.0.1", specs[0].client_port, "/admin/partition", 5.0)[1]["drop"]
                == []
            )
        finally:
            db.teardown()


@requires_command(FAKETIME_LIB, "faketime")
def test_faketime_clock_file_moves_the_node_clock():
    with open_cluster("local", ["n1"]) as cluster:
        db = RaftnodeDB()
        try:
            db.setup(cluster.node_specs(), {"faketime": True})
            clock = db.clock_file("n1")
            assert clock is not None and cluster.hosts["n1"].read_file(clock).strip() == b"+0"
            db.start("n1")
            assert wait_for(lambda: db.probe("n1").reachable)
            before = db.probe("n1").clock_ns
            assert abs(before - time.time_ns()) < 60e9
            cluster.hosts["n1"].write_file(clock, b"+3600\n")
            assert wait_for(lambda: (db.probe("n1").clock_ns or 0) - time.time_ns() > 3000e9)
        finally:
            db.teardown()


def test_unknown_node_is_a_clear_error():
    db = RaftnodeDB()
    with pytest.raises(Exception, match="unknown node 'n7'"):
        db.start("n7")


@pytest.mark.root
@requires_netns
@requires_command("/usr/sbin/sshd", "openssh-server")
@requires_command("ssh-keygen", "openssh-client")
def test_raftnode_over_ssh_uploads_code_and_runs(tmp_path):
    from harness.sshd import ssh_lab

    with ssh_lab(NODES, tmp_path) as lab:
        cluster = open_cluster("ssh", NODES, ssh_hosts_file=lab.hosts_file)
        db = RaftnodeDB()
        try:
            specs = cluster.node_specs()
            db.setup(specs, {})
            code = f"{cluster.hosts['n1'].workdir}/raftnode-code/raftnode/__main__.py"
            assert (
                cluster.hosts["n1"].run(["test", "-f", code], check=False).exit_code == 0
            )  # uploaded by SFTP
            for node in NODES:
                db.start(node)
            leader = leader_of(db, NODES)
            assert leader is not None
            client = db.client(leader)
            assert until_ok(client, "write", "x", 1).type == "ok"
            assert until_ok(client, "read", "x", None).value == 1
            client.close()
            pid = db.pid("n2")
            db.pause("n2")
            assert wait_for(lambda: cluster.hosts["n2"].process_state(pid) == "T")
            db.resume("n2")
            db.kill("n2")
            assert not cluster.hosts["n2"].is_alive(pid)
            files = db.log_files("n1")
            cluster.hosts["n1"].download(files["node.log"], tmp_path / "n1.log")
            assert (tmp_path / "n1.log").stat().st_size > 0
        finally:
            pids = {n: db.pid(n) for n in NODES if db.pid(n)}
            db.teardown()
            survivors = [n for n, p in pids.items() if cluster.hosts[n].is_alive(p)]
            cluster.close()
        assert survivors == []


def test_command_line_follows_the_contract(tmp_path):
    with open_cluster("local", NODES) as cluster:
        db = RaftnodeDB()
        specs = cluster.node_specs(tmp_path)
        db.setup(
            specs, {"bugs": ["stale-read", "no-fsync"], "seed": 7, "election_ms": 500, "tick_ms": 5}
        )
        argv = db.command("n2")
        assert argv[1:5] == ["-m", "raftnode", "--id", "n2"]
        peers = argv[argv.index("--peers") + 1].split(",")
        assert peers == [f"{s.name}=127.0.0.1:{s.peer_port}" for s in specs]
        assert argv[argv.index("--client") + 1] == f"127.0.0.1:{specs[1].client_port}"
        assert argv[argv.index("--data-dir") + 1] == specs[1].data_dir
        assert [argv[i + 1] for i, a in enumerate(argv) if a == "--bug"] == [
            "stale-read",
            "no-fsync",
        ]
        assert (
            argv[argv.index("--election-ms") + 1] == "500"
            and argv[argv.index("--tick-ms") + 1] == "5"
        )
        seeds = {db.command(n)[db.command(n).index("--seed") + 1] for n in NODES}
        assert len(seeds) == 3  # reproducible per node, never equal across nodes
        assert (tmp_path / "n2" / "data").is_dir()
        assert db.clock_file("n2") is None and db.wal_path("n2").endswith("/n2/data/wal.log")
