"""Message chaos: the transport drops, duplicates, delays and reorders outgoing peer
messages as POST /admin/network says (seeded), the endpoint validates its body, and
RaftnodeDB.shape_peers (and delay_disk, raftnode.diskdelay) re-applies the settings when
it restarts a node."""

from __future__ import annotations

import asyncio

import pytest

from harness.cluster import open_cluster
from harness.dbs.raftnode import RaftnodeDB
from harness.dbs.raftnode_client import get_json
from raftnode.core.types import Message
from raftnode.netchaos import NetworkChaos
from raftnode.testing import LoopbackCluster, free_ports, http_json
from raftnode.transport import Transport

TOKEN = b"chaos-test-token"


def _msg(term: int) -> Message:
    return Message(kind="append", src="a", dst="b", term=term)


def _run_pair(chaos: NetworkChaos, count: int, *, seed: int = 1, settle_s: float = 0.5):
    """Send `count` messages a->b under `chaos`; the terms b received, in order, and a's
    chaos counts."""

    async def main() -> tuple[list[int], dict[str, int]]:
        p1, p2 = free_ports(2)
        peers = {"a": ("127.0.0.1", p1), "b": ("127.0.0.1", p2)}
        got: list[Message] = []
        ta = Transport("a", peers, lambda m: None, token=TOKEN, seed=seed)
        tb = Transport("b", peers, got.append, token=TOKEN, seed=seed)
        await ta.start()
        await tb.start()
        try:
            ta.send(_msg(0))  # connect first: nothing shaped is lost to the dial
            deadline = asyncio.get_running_loop().time() + 20
            while not got:
                assert asyncio.get_running_loop().time() < deadline, "no connection"
                await asyncio.sleep(0.01)
            got.clear()
            ta.set_chaos(chaos)
            for term in range(1, count + 1):
                ta.send(_msg(term))
                await asyncio.sleep(0.002)
            await asyncio.sleep(settle_s)
            return [m.term for m in got], dict(ta.chaos_counts)
        finally:
            await ta.close()
            await tb.close()

    return asyncio.run(main())


def test_drop_all_delivers_nothing_and_off_delivers_everything() -> None:
    terms, counts = _run_pair(NetworkChaos(drop=1.0), 20)
    assert terms == [] and counts["dropped"] == 20
    terms, counts = _run_pair(NetworkChaos(), 20)
    assert terms == list(range(1, 21)) and counts == dict.fromkeys(counts, 0)


def test_duplicate_all_delivers_each_message_twice() -> None:
    terms, counts = _run_pair(NetworkChaos(duplicate=1.0), 15)
    assert sorted(terms) == sorted(list(range(1, 16)) * 2)
    assert counts["duplicated"] == 15


def test_reorder_lets_later_messages_overtake() -> None:
    terms, counts = _run_pair(NetworkChaos(reorder=0.5, reorder_ms=80), 40, settle_s=0.6)
    assert sorted(terms) == list(range(1, 41))  # nothing lost, nothing doubled
    assert terms != sorted(terms)  # but not in the order sent
    assert 0 < counts["reordered"] < 40


def test_delay_holds_messages_back() -> None:
    terms, _ = _run_pair(NetworkChaos(delay=1.0, delay_ms=1500), 5, settle_s=0.3)
    assert terms == []  # all still waiting
    terms, counts = _run_pair(NetworkChaos(delay=1.0, delay_ms=100), 5, settle_s=0.6)
    assert terms == [1, 2, 3, 4, 5] and counts["delayed"] == 5


def test_peers_limits_the_shaping() -> None:
    terms, counts = _run_pair(NetworkChaos(drop=1.0, peers=("c",)), 10)
    assert terms == list(range(1, 11)) and counts["dropped"] == 0


def test_the_draws_are_seeded() -> None:
    chaos = NetworkChaos(drop=0.3, duplicate=0.3)
    first = _run_pair(chaos, 30, seed=7)
    assert _run_pair(chaos, 30, seed=7) == first
    assert _run_pair(chaos, 30, seed=8) != first


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([1], "JSON object"),
        ({"drop": 2}, "drop must be in"),
        ({"drop": True}, "drop must be a number"),
        ({"delay_ms": -1}, "delay_ms must be in"),
        ({"peers": "n2"}, "peers must be a list"),
        ({"lose": 0.1}, "unknown field 'lose'"),
    ],
)
def test_bad_settings_are_refused(body, message) -> None:
    with pytest.raises(ValueError, match=message):
        NetworkChaos.parse(body)


def test_parse_round_trip() -> None:
    chaos = NetworkChaos.parse({"drop": 0.1, "reorder": 0.2, "peers": ["n3", "n2"]})
    assert chaos.active and chaos.applies_to("n2") and not chaos.applies_to("n4")
    assert NetworkChaos.parse(chaos.to_json()) == chaos
    assert not NetworkChaos.parse({}).active


@pytest.mark.process
def test_admin_network_endpoint_on_a_live_cluster(tmp_path) -> None:
    with LoopbackCluster(tmp_path, n=3, election_ms=1000, heartbeat_ms=100) as c:
        c.wait_leader(timeout=60)
        port = c.nodes["n1"].client_port
        status, body = http_json(port, "POST", "/admin/network", {"drop": 1.0, "peers": ["n2"]})
        assert status == 200 and body["drop"] == 1.0 and body["peers"] == ["n2"]
        status, body = http_json(port, "GET", "/admin/network")
        assert status == 200 and body["drop"] == 1.0
        status, body = http_json(port, "POST", "/admin/network", {"drop": 5})
        assert status == 400 and "drop must be in" in body["message"]
        status, body = http_json(port, "POST", "/admin/network", {})
        assert status == 200 and body["drop"] == 0.0
        # the writes still commit: chaos on one node's link is survivable
        assert c.kv_retry({"op": "write", "key": "k", "value": 1}, prefer="n1")[0] == 200


@pytest.mark.process
@pytest.mark.parametrize(
    ("setter", "path", "settings", "field"),
    [
        ("shape_peers", "/admin/network", {"duplicate": 0.5, "peers": ["n2", "n3"]}, "duplicate"),
        ("delay_disk", "/admin/disk", {"delay_ms": 5, "leader_ms": 50}, "leader_ms"),
    ],
)
def test_db_reapplies_fault_settings_after_a_restart(setter, path, settings, field) -> None:
    """RaftnodeDB.shape_peers / delay_disk: a restarted node gets the settings back; once
    turned off, a restart keeps them off."""
    nodes = ["n1", "n2", "n3"]
    with open_cluster("local", nodes) as cluster:
        db = RaftnodeDB()
        try:
            specs = cluster.node_specs()
            db.setup(specs, {})
            for node in nodes:
                db.start(node)
            port = specs[0].client_port
            getattr(db, setter)("n1", settings)
            assert get_json("127.0.0.1", port, path, 5.0)[1][field] == settings[field]
            db.kill("n1")
            db.start("n1")
            status, body = get_json("127.0.0.1", port, path, 5.0)
            assert status == 200
            assert {k: body[k] for k in settings} == settings
            getattr(db, setter)("n1", None)
            db.kill("n1")
            db.start("n1")
            assert get_json("127.0.0.1", port, path, 5.0)[1][field] == 0.0
        finally:
            db.teardown()
