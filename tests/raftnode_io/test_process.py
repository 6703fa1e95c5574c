"""Real raftnode processes on loopback: election, the client API, forwarding, kill -9 of the
leader, durability of every acknowledged write across a full restart, local partitions."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.core.faketime import FAKETIME_LIB, faketime_env
from raftnode.testing import REPO_ROOT, LoopbackCluster

pytestmark = pytest.mark.process


def _kv(c: LoopbackCluster, node: str, body: dict, timeout: float = 60.0) -> tuple[int, dict]:
    """Ask `node`, retrying while it answers `unavailable`/`not-leader` (certainly not
    applied: an election is under way). Any other answer is returned."""
    deadline = time.monotonic() + timeout
    while True:
        code, resp = c.kv(node, body)
        if code not in (421, 503) or time.monotonic() > deadline:
            return code, resp
        time.sleep(0.1)


def _follower(c: LoopbackCluster, leader: str) -> str:
    return next(n for n in c.nodes if n != leader)


def test_elects_one_leader(cluster: LoopbackCluster) -> None:
    leader = cluster.wait_leader(timeout=60)
    sts = [cluster.wait_ready(n) for n in cluster.nodes]
    terms = {s["term"] for s in sts if s["leader"] == leader}  # type: ignore[index]
    assert len(terms) == 1
    assert sum(1 for s in sts if s["role"] == "leader" and s["term"] in terms) == 1  # type: ignore[index]
    for s in sts:
        assert {"commit_index", "last_log_index", "applied_index", "wall_clock_ns"} <= set(s)  # type: ignore[arg-type]


def test_kv_ops_on_leader_and_via_follower(cluster: LoopbackCluster) -> None:
    leader = cluster.wait_leader(timeout=60)
    follower = _follower(cluster, leader)
    for node in (leader, follower):
        key = f"k-{node}"
        code, body = _kv(cluster, node, {"op": "write", "key": key, "value": 1})
        assert code == 200 and body["ok"] is True and body["index"] > 0, body
        assert _kv(cluster, node, {"op": "read", "key": key})[1]["value"] == 1
        code, body = _kv(cluster, node, {"op": "cas", "key": key, "old": 2, "new": 3})
        assert code == 409 and body["error"] == "precondition-failed", body
        code, body = _kv(cluster, node, {"op": "cas", "key": key, "old": 1, "new": 3})
        assert code == 200, body
        assert _kv(cluster, node, {"op": "read", "key": key})[1]["value"] == 3
        code, body = _kv(cluster, node, {"op": "cas", "key": key + "-absent", "old": 1, "new": 2})
        assert code == 404 and body["error"] == "not-found", body
        lst = key + "-l"
        assert _kv(cluster, node, {"op": "append", "key": lst, "value": "a"})[1]["value"] == ["a"]
        code, body = _kv(cluster, node, {"op": "append", "key": lst, "value": "b"})
        assert code == 200 and body["value"] == ["a", "b"], body
        assert _kv(cluster, node, {"op": "delete", "key": key})[0] == 200
        assert _kv(cluster, node, {"op": "read", "key": key})[1]["value"] is None
    # a write made through the follower is visible on the leader (one replicated state)
    assert _kv(cluster, leader, {"op": "read", "key": f"k-{follower}-l"})[1]["value"] == ["a", "b"]


def test_retried_request_applied_once(cluster: LoopbackCluster) -> None:
    leader = cluster.wait_leader(timeout=60)
    req = {"op": "append", "key": "dedup", "value": "x", "client_id": "t1", "seq": 1}
    first = _kv(cluster, leader, req)
    again = _kv(cluster, _follower(cluster, leader), req)
    assert first[0] == again[0] == 200
    assert _kv(cluster, leader, {"op": "read", "key": "dedup"})[1]["value"] == ["x"]


def test_malformed_requests_keep_node_running(cluster: LoopbackCluster) -> None:
    node = next(iter(cluster.nodes))
    port = cluster.nodes[node].client_port
    import http.client

    for raw in (b"{nope", b'{"op":"explode","key":"a"}', b'{"op":"write"}'):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/kv", body=raw)
        resp = conn.getresponse()
        assert resp.status == 400 and json.loads(resp.read())["error"] == "bad-request"
        conn.close()
    assert cluster.nodes[node].alive and cluster.status(node) is not None


def test_local_partition_hook(cluster: LoopbackCluster) -> None:
    old = cluster.wait_leader(timeout=60)
    others = [n for n in cluster.nodes if n != old]
    try:
        cluster_post = lambda n, drop: cluster_admin(cluster, n, drop)  # noqa: E731
        cluster_post(old, others)
        for n in others:
            cluster_post(n, [old])
        new = cluster.wait_leader(timeout=60, among=others)
        assert new != old
        code, body = cluster.kv(new, {"op": "write", "key": "part", "value": 1})
        assert code == 200, body
        # the isolated old leader cannot confirm leadership: no stale read, no ok write
        code, body = cluster.kv(old, {"op": "read", "key": "part"}, timeout=30)
        assert code in (421, 503, 504), body
    finally:
        for n in cluster.nodes:
            cluster_admin(cluster, n, [])
    cluster.wait_leader(timeout=60)
    code, body = cluster.kv_retry({"op": "read", "key": "part"}, prefer=old)
    assert code == 200 and body["value"] == 1


def cluster_admin(c: LoopbackCluster, node: str, drop: list[str]) -> None:
    from raftnode.testing import http_json

    code, body = http_json(c.nodes[node].client_port, "POST", "/admin/partition", {"drop": drop})
    assert code == 200 and body["drop"] == sorted(drop)


def test_kill_leader_then_restart_all_keeps_acknowledged_writes(tmp_path: Path) -> None:
    with LoopbackCluster(tmp_path, n=3) as c:
        leader = c.wait_leader(timeout=60)
        acked: dict[str, int] = {}
        for i in range(30):
            code, body = c.kv_retry({"op": "write", "key": f"d{i}", "value": i}, prefer=leader)
            if code == 200:
                acked[f"d{i}"] = i
        assert len(acked) == 30
        c.kill(leader)  # SIGKILL
        t0 = time.monotonic()
        new = c.wait_leader(timeout=30, not_=leader)
        elected_in = time.monotonic() - t0
        assert new != leader
        assert elected_in < 30  # generous: the machine is shared; the figure is in the log
        for i in range(30, 45):
            code, _ = c.kv_retry(
                {"op": "write", "key": f"d{i}", "value": i, "client_id": "w", "seq": i}
            )
            if code == 200:
                acked[f"d{i}"] = i
        assert len(acked) == 45
        for n in c.nodes:
            c.kill(n)
        c.start()
        c.wait_leader(timeout=60)
        for key, value in acked.items():
            code, body = c.kv_retry({"op": "read", "key": key})
            assert code == 200 and body["value"] == value, (key, code, body)
        # dump shows the same durable log that the reads came from
        c.stop(new)
        out = subprocess.run(
            [sys.executable, "-m", "raftnode", "dump", str(c.nodes[new].data_dir), "--json"],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        doc = json.loads(out.stdout)
        assert doc["hard_state"]["term"] >= 2 and doc["hard_state"]["commit"] >= 45
        logged = [e["command"] for e in doc["entries"] if e["command"]]
        keys = {cmd.get("key") for cmd in logged if isinstance(cmd, dict)}
        assert doc["snapshot"] is not None or {f"d{i}" for i in range(45)} <= keys
        for e in doc["entries"]:
            assert len(e["digest"]) == 16
        text = subprocess.run(
            [sys.executable, "-m", "raftnode", "dump", str(c.nodes[new].data_dir)],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            timeout=60,
        )
        assert text.returncode == 0 and text.stdout.startswith("hard state: term=")
        events = [
            json.loads(x) for x in (c.nodes[new].data_dir / "events.jsonl").read_text().splitlines()
        ]
        assert {"start", "role", "append", "commit", "apply"} <= {e["ev"] for e in events}
        assert all(e["node"] == new and isinstance(e["t"], int) for e in events)


def test_sigterm_exits_zero(tmp_path: Path) -> None:
    with LoopbackCluster(tmp_path, n=1) as c:
        c.wait_leader(timeout=60)
        assert c.kv("n1", {"op": "write", "key": "a", "value": 1})[0] == 200
        assert c.kill("n1", signal.SIGTERM) == 0
        assert "Traceback" not in c.log_text("n1")


def test_five_nodes_elect_and_serve(tmp_path: Path) -> None:
    with LoopbackCluster(tmp_path, n=5) as c:
        leader = c.wait_leader(timeout=60)
        code, body = c.kv_retry({"op": "incr", "key": "ctr", "value": 2}, prefer=leader)
        assert code == 200 and body["value"] == 2
        c.kill(leader)
        c.wait_leader(timeout=60, not_=leader)
        code, body = c.kv_retry({"op": "read", "key": "ctr"})
        assert code == 200 and body["value"] == 2


def test_no_fsync_bug_loses_acknowledged_writes_on_sigkill(tmp_path: Path) -> None:
    """The planted bug is real at the process level: acknowledged writes sit in a user-space
    buffer, so kill -9 right after the acks loses some. (Several tries: a lazy flush can land
    between the last ack and the kill.)"""
    lost_any = False
    for attempt in range(5):
        with LoopbackCluster(tmp_path / f"try{attempt}", n=1, bugs=["no-fsync"]) as c:
            c.wait_leader(timeout=60)
            for i in range(40):
                assert c.kv("n1", {"op": "write", "key": f"k{i}", "value": i})[0] == 200
            c.kill("n1")  # SIGKILL
            c.start("n1")
            c.wait_leader(timeout=60)
            present = sum(
                1 for i in range(40) if c.kv("n1", {"op": "read", "key": f"k{i}"})[1]["value"] == i
            )
        if present < 40:
            lost_any = True
            break
    assert lost_any, "no-fsync never lost an acknowledged write"


def test_without_bug_sigkill_loses_nothing(tmp_path: Path) -> None:
    with LoopbackCluster(tmp_path, n=1) as c:
        c.wait_leader(timeout=60)
        for i in range(40):
            assert c.kv("n1", {"op": "write", "key": f"k{i}", "value": i})[0] == 200
        c.kill("n1")
        c.start("n1")
        c.wait_leader(timeout=60)
        for i in range(40):
            assert c.kv("n1", {"op": "read", "key": f"k{i}"})[1]["value"] == i


def test_core_rejection_message_reaches_client(cluster: LoopbackCluster) -> None:
    leader = cluster.wait_leader(timeout=60)
    code, body = _kv(cluster, leader, {"op": "write", "key": "", "value": 1})  # empty key
    assert code == 400 and body["error"] == "bad-request"
    assert "key" in body["message"]


@pytest.mark.skipif(not Path(FAKETIME_LIB).exists(), reason="needs Debian's libfaketime")
def test_under_libfaketime_the_node_persists_inline_and_serves(tmp_path: Path) -> None:
    """libfaketime 0.9.10 breaks CPython's GIL hand-off between threads (timed waits on
    the monotonic clock), so the node must not use its disk thread there."""
    clock = tmp_path / "clock"
    clock.write_text("+0\n")
    with LoopbackCluster(tmp_path / "c", n=3, env=faketime_env(str(clock))) as c:
        leader = c.wait_leader(timeout=60)
        for i in range(50):
            assert _kv(c, leader, {"op": "write", "key": "k", "value": i})[0] == 200
        code, body = _kv(c, _follower(c, leader), {"op": "read", "key": "k"})
        assert code == 200 and body["value"] == 49, body
        for name in c.nodes:
            assert "disk inline" in c.log_text(name), c.log_text(name)[-500:]
    with LoopbackCluster(tmp_path / "plain", n=1) as c:
        c.wait_leader(timeout=60)
        assert "disk thread" in c.log_text("n1")


def test_lagging_follower_catches_up_by_install_snapshot(tmp_path: Path) -> None:
    """A follower that was down while the others compacted their logs gets the snapshot
    over TCP (InstallSnapshot), stores it and applies everything after it."""
    with LoopbackCluster(tmp_path, n=3, extra_args=["--snapshot-every", "20"]) as c:
        leader = c.wait_leader(timeout=60)
        lagging = _follower(c, leader)
        c.kill(lagging)
        for i in range(100):
            code, _ = c.kv_retry({"op": "write", "key": f"s{i % 7}", "value": i}, prefer=leader)
            assert code == 200
        leader_status = c.status(leader)
        assert leader_status is not None and leader_status["snapshot_index"] >= 20
        c.start(lagging)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            st = c.status(lagging)
            if st and st["applied_index"] >= leader_status["commit_index"]:
                break
            time.sleep(0.1)
        assert st and st["applied_index"] >= leader_status["commit_index"], st
        events = [
            json.loads(x)
            for x in (c.nodes[lagging].data_dir / "events.jsonl").read_text().splitlines()
        ]
        since_restart = events[max(i for i, e in enumerate(events) if e["ev"] == "start") :]
        kinds = [e["ev"] for e in since_restart]
        assert "snapshot" in kinds, kinds[:20]
        at = kinds.index("snapshot")
        installed = since_restart[at]
        assert installed["index"] >= 20
        # it got the prefix as a snapshot, not entry by entry
        appended = [e["index"] for e in since_restart[:at] if e["ev"] == "append"]
        assert all(i > installed["index"] for i in appended) and len(appended) < 20, appended
        c.stop(lagging)
        out = subprocess.run(
            [sys.executable, "-m", "raftnode", "dump", str(c.nodes[lagging].data_dir), "--json"],
            capture_output=True, text=True, cwd=REPO_ROOT, timeout=60,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["snapshot"]["index"] >= installed["index"]


def _wait_status(c: LoopbackCluster, node: str, pred, timeout: float = 60.0) -> dict:
    """Poll /status of `node` until `pred(status)` holds; returns that status."""
    deadline = time.monotonic() + timeout
    st = None
    while time.monotonic() < deadline:
        st = c.status(node)
        if st is not None and pred(st):
            return st
        time.sleep(0.1)
    raise AssertionError(f"{node}: condition not reached in {timeout}s; last status {st}")


def test_wiped_follower_is_resynced_and_counts_for_a_majority(tmp_path: Path) -> None:
    """Issue 11 item 3: a follower whose data dir was deleted comes back empty; the leader
    must bring it to its commit index, so that losing another node still leaves a writable
    majority (before the fix it stayed at commit 0 and every write then timed out)."""
    with LoopbackCluster(tmp_path, n=3, election_ms=1000, heartbeat_ms=100) as c:
        leader = c.wait_leader(timeout=60)
        for i in range(20):
            assert c.kv_retry({"op": "write", "key": f"w{i}", "value": i}, prefer=leader)[0] == 200
        wiped, other = [n for n in c.nodes if n != leader]
        c.kill(wiped)
        shutil.rmtree(c.nodes[wiped].data_dir)
        c.start(wiped)
        target = _wait_status(c, leader, lambda s: s["commit_index"] >= 21)["commit_index"]
        _wait_status(c, wiped, lambda s: s["commit_index"] >= target)
        c.kill(other)
        code, body = c.kv_retry({"op": "write", "key": "after", "value": 1}, prefer=leader)
        assert code == 200, body
        code, body = c.kv_retry({"op": "read", "key": "w7"}, prefer=wiped)
        assert code == 200 and body["value"] == 7, body
