"""The controller's Maelstrom network over real sockets: routing, partitions, latency,
replies to the controller's clients, garbage, lost links — and the message log."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest

from harness.dbs.maelstrom.network import Latency, MaelstromNetwork
from harness.dbs.maelstrom.protocol import encode


class FakeNode:
    """The node end of a link: what the shim would pass through, read and written here."""

    def __init__(self, network: MaelstromNetwork, name: str) -> None:
        ours, theirs = socket.socketpair()
        self.sock = ours
        self.sock.settimeout(5.0)
        self.stream = ours.makefile("rb")
        self.link = network.attach(name, theirs)
        self.name = name

    def say(self, dest: str, body: dict) -> None:
        self.sock.sendall(encode(self.name, dest, body))

    def raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def hear(self) -> dict:
        return json.loads(self.stream.readline())

    def close(self) -> None:
        self.stream.close()
        self.sock.close()

    def silent(self, wait: float = 0.2) -> bool:
        self.sock.settimeout(wait)
        try:
            return self.sock.recv(1, socket.MSG_PEEK) == b""
        except TimeoutError:
            return True
        finally:
            self.sock.settimeout(5.0)


@pytest.fixture
def net(tmp_path: Path):
    network = MaelstromNetwork(["n1", "n2", "n3"], log_path=tmp_path / "messages.jsonl")
    yield network
    network.close()


def fates(tmp_path: Path) -> list[tuple[str, str, str]]:
    lines = (tmp_path / "messages.jsonl").read_text().splitlines()
    return [(r["fate"], r["src"], r["dest"]) for r in map(json.loads, lines)]


def test_messages_between_nodes_are_routed_and_logged(net, tmp_path: Path) -> None:
    n1, n2 = FakeNode(net, "n1"), FakeNode(net, "n2")
    n1.say("n2", {"type": "gossip", "x": 1})
    assert n2.hear() == {"src": "n1", "dest": "n2", "body": {"type": "gossip", "x": 1}}
    net.close()
    assert fates(tmp_path) == [("delivered", "n1", "n2")]


def test_partitions_drop_both_ways_and_heal(net, tmp_path: Path) -> None:
    n1, n2, n3 = (FakeNode(net, n) for n in ("n1", "n2", "n3"))
    net.block_peers("n1", ["n2"])
    n1.say("n2", {"type": "a"})
    n2.say("n1", {"type": "b"})
    n1.say("n3", {"type": "c"})
    assert n3.hear()["body"]["type"] == "c"
    assert n1.silent() and n2.silent()
    net.block_peers("n1", [])
    n2.say("n1", {"type": "d"})
    assert n1.hear()["body"]["type"] == "d"
    net.close()
    assert fates(tmp_path).count(("dropped-partition", "n1", "n2")) == 1
    assert ("dropped-partition", "n2", "n1") in fates(tmp_path)


def test_a_partition_also_drops_what_is_in_flight(tmp_path: Path) -> None:
    net = MaelstromNetwork(["n1", "n2"], latency=Latency(300), log_path=tmp_path / "messages.jsonl")
    try:
        n1, n2 = FakeNode(net, "n1"), FakeNode(net, "n2")
        started = time.monotonic()
        n1.say("n2", {"type": "slow"})
        assert n2.hear()["body"]["type"] == "slow"
        assert time.monotonic() - started >= 0.29  # the latency was applied
        n1.say("n2", {"type": "cut"})
        time.sleep(0.05)
        net.block_peers("n2", ["n1"])  # while "cut" is in flight
        assert n2.silent(0.5)
    finally:
        net.close()
    assert ("dropped-partition", "n1", "n2") in fates(tmp_path)


def test_rpc_gets_its_reply_and_a_dead_link_ends_the_wait(net) -> None:
    n1 = FakeNode(net, "n1")
    reply: dict = {}

    def answer() -> None:
        request = n1.hear()
        reply.update(request)
        n1.say(
            request["src"],
            {"type": "read_ok", "value": 5, "in_reply_to": request["body"]["msg_id"]},
        )

    threading.Thread(target=answer, daemon=True).start()
    body, why = net.rpc("c1", "n1", {"type": "read", "key": "r"}, 5.0)
    assert body is not None and body["value"] == 5 and reply["dest"] == "n1"
    assert net.rpc("c1", "n2", {"type": "read", "key": "r"}, 1.0) == (None, "not connected")
    threading.Timer(0.2, n1.close).start()
    started = time.monotonic()
    body, why = net.rpc("c1", "n1", {"type": "write", "key": "r", "value": 1}, 10.0)
    assert body is None and "closed" in why and time.monotonic() - started < 5.0


def test_garbage_is_counted_and_skipped(net, tmp_path: Path) -> None:
    n1, n2 = FakeNode(net, "n1"), FakeNode(net, "n2")
    n1.link.ready = True  # past init: garbage is logged, not fatal
    n1.raw(b"panic: something odd\n{not json either\n")
    n1.say("n2", {"type": "still-routed"})
    assert n2.hear()["body"]["type"] == "still-routed"
    assert n1.link.garbage == 2 and n1.link.garbage_samples[0] == "panic: something odd"
    net.close()
    assert [f for f in fates(tmp_path) if f[0] == "garbage"] == [("garbage", "n1", "")] * 2


def test_the_leader_is_inferred_from_who_talks_to_everyone(net) -> None:
    nodes = {n: FakeNode(net, n) for n in ("n1", "n2", "n3")}
    for _ in range(10):
        nodes["n2"].say("n1", {"type": "heartbeat"})
        nodes["n2"].say("n3", {"type": "heartbeat"})
        nodes["n1"].say("n2", {"type": "ack"})
    for _ in range(10):
        for node in nodes.values():
            node.hear()
    assert net.inferred_leader() == "n2"
    net.block_peers("n2", ["n1", "n3"])
    time.sleep(1.1)  # the window moves on; nobody stands out any more
    assert net.inferred_leader() is None
