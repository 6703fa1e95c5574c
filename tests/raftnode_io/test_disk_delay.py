"""Slow-disk injection: POST /admin/disk validates its body, slows the node's own
acknowledgement of its fsyncs (on the disk thread and inline), `leader_ms` only while the
node leads. RaftnodeDB.delay_disk re-applying them on a restart: test_network_chaos.py."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import pytest

from raftnode.diskdelay import DiskDelay
from raftnode.testing import LoopbackCluster, http_json


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([1], "JSON object"),
        ({"delay_ms": -1}, "delay_ms must be in"),
        ({"jitter_ms": 1e9}, "jitter_ms must be in"),
        ({"leader_ms": "slow"}, "leader_ms must be a number"),
        ({"delay": 5}, "unknown field 'delay'"),
    ],
)
def test_bad_settings_are_refused(body, message) -> None:
    with pytest.raises(ValueError, match=message):
        DiskDelay.parse(body)


def test_draws_add_the_leader_part_only_while_leading() -> None:
    rng = random.Random(1)
    delay = DiskDelay.parse({"delay_ms": 10, "jitter_ms": 20, "leader_ms": 100})
    follower = [delay.draw_seconds(rng, leading=False) for _ in range(200)]
    leader = [delay.draw_seconds(rng, leading=True) for _ in range(200)]
    assert all(0.010 <= s <= 0.030 for s in follower) and len(set(follower)) > 100
    assert all(0.110 <= s <= 0.130 for s in leader)
    assert DiskDelay.parse({}).draw_seconds(rng, leading=True) == 0.0
    assert not DiskDelay.parse({}).active and DiskDelay.parse({"leader_ms": 1}).active
    assert DiskDelay.parse(delay.to_json()) == delay


def _delayed_rounds(port: int) -> int:
    status, body = http_json(port, "GET", "/admin/disk")
    assert status == 200
    return body["delayed_rounds"]


@pytest.mark.process
@pytest.mark.parametrize("disk_thread", ["on", "off"])
def test_admin_disk_slows_the_leader_only_with_leader_ms(tmp_path, disk_thread) -> None:
    args = ["--disk-thread", disk_thread]
    with LoopbackCluster(tmp_path, n=3, election_ms=1000, heartbeat_ms=100, extra_args=args) as c:
        leader = c.wait_leader(timeout=60)
        ports = {n: node.client_port for n, node in c.nodes.items()}
        for port in ports.values():
            status, body = http_json(port, "POST", "/admin/disk", {"leader_ms": 200})
            assert status == 200 and body["leader_ms"] == 200.0
        for i in range(5):
            write = {"op": "write", "key": "k", "value": i}
            assert c.kv_retry(write, prefer=leader)[0] == 200
        # the leader's rounds were held back; the followers' were not
        assert _delayed_rounds(ports[leader]) >= 5
        assert all(_delayed_rounds(p) == 0 for n, p in ports.items() if n != leader)
        # a slow disk on every node: everyone's rounds wait, and writes still commit
        for port in ports.values():
            assert http_json(port, "POST", "/admin/disk", {"delay_ms": 30})[0] == 200
        assert c.kv_retry({"op": "write", "key": "k", "value": 9}, prefer=leader)[0] == 200
        assert all(_delayed_rounds(p) > 0 for n, p in ports.items() if n != leader)
        assert c.kv_retry({"op": "read", "key": "k"}, prefer=leader)[1]["value"] == 9
        # a burst while rounds are held back: its batches queue behind them and must all
        # complete, in order, with every node still up
        writes = [{"op": "write", "key": f"b{i % 7}", "value": i} for i in range(120)]
        with ThreadPoolExecutor(max_workers=24) as pool:
            codes = list(pool.map(lambda w: c.kv_retry(w, prefer=leader)[0], writes))
        assert codes == [200] * len(writes)
        assert all(c.status(n) for n in c.nodes), "a node died under the burst"
        status, body = http_json(ports[leader], "POST", "/admin/disk", {"delay_ms": -5})
        assert status == 400 and "delay_ms must be in" in body["message"]
        status, body = http_json(ports[leader], "POST", "/admin/disk", {})
        assert status == 200 and body["delay_ms"] == 0.0 and body["leader_ms"] == 0.0
