"""Peer transport: delivery, the partition hook, malformed frames closing only their
connection, and reconnection after a peer restarts."""

from __future__ import annotations

import asyncio
import json
import struct

from raftnode.core.types import Entry, Message
from raftnode.testing import free_ports
from raftnode.transport import Transport, encode_frame, message_dict


async def _until(pred, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not pred():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


def _pair():
    p1, p2 = free_ports(2)
    peers = {"a": ("127.0.0.1", p1), "b": ("127.0.0.1", p2)}
    got: dict[str, list[Message]] = {"a": [], "b": []}
    ta = Transport("a", peers, got["a"].append, client_addr="127.0.0.1:1111")
    tb = Transport("b", peers, got["b"].append, client_addr="127.0.0.1:2222")
    return peers, got, ta, tb


def _msg(src: str, dst: str, term: int) -> Message:
    return Message(
        kind="append", src=src, dst=dst, term=term, entries=[Entry(term, 1, {"op": "write"})]
    )


def test_message_dict_equals_to_json() -> None:
    m = _msg("a", "b", 3)
    m.context = {"handle": "h1", "op": "read"}
    assert message_dict(m) == m.to_json()
    assert Message.from_json(json.loads(json.dumps(message_dict(m)))) == m


def test_delivery_partition_and_malformed_frames() -> None:
    async def main() -> None:
        peers, got, ta, tb = _pair()
        await ta.start()
        await tb.start()
        try:
            for t in range(1, 6):
                ta.send(_msg("a", "b", t))
            await _until(lambda: len(got["b"]) == 5)
            assert [m.term for m in got["b"]] == [1, 2, 3, 4, 5]  # in order
            assert got["b"][0].entries[0].command == {"op": "write"}
            assert tb.client_addrs["a"] == "127.0.0.1:1111"  # learned from the hello

            # partition hook on b: drops what a sends and what b would send to a
            tb.set_dropped(["a"])
            ta.send(_msg("a", "b", 6))
            tb.send(_msg("b", "a", 6))
            await asyncio.sleep(0.3)
            assert len(got["b"]) == 5 and got["a"] == []
            tb.set_dropped([])
            tb.send(_msg("b", "a", 7))
            await _until(lambda: len(got["a"]) == 1)

            # garbage on a fresh connection closes that connection, nothing else
            for junk in (
                b"\x00\x00\x00\x05hello",  # not JSON
                struct.pack(">I", 1 << 30),  # absurd length
                encode_frame({"hello": "mallory"}),  # not a member
                encode_frame({"hello": "a"}) + encode_frame({"kind": "bogus"}),
            ):
                r, w = await asyncio.open_connection(*peers["b"])
                w.write(junk)
                await w.drain()
                assert await asyncio.wait_for(r.read(), 10) == b""  # closed by b
                w.close()
            ta.send(_msg("a", "b", 8))
            await _until(lambda: len(got["b"]) == 6)
            assert got["b"][-1].term == 8
        finally:
            await ta.close()
            await tb.close()

    asyncio.run(main())


def test_reconnects_after_peer_restart() -> None:
    async def main() -> None:
        peers, got, ta, tb = _pair()
        await ta.start()
        await tb.start()
        tb2 = None
        try:
            ta.send(_msg("a", "b", 1))
            await _until(lambda: len(got["b"]) == 1)
            await tb.close()
            tb2 = Transport("b", peers, got["b"].append)
            await tb2.start()

            # a's old connection is dead; sends are lost until it reconnects, then flow again
            async def delivered() -> None:
                while len(got["b"]) < 2:
                    ta.send(_msg("a", "b", 2))
                    await asyncio.sleep(0.05)

            await asyncio.wait_for(delivered(), 30)
            assert got["b"][-1].term == 2
        finally:
            await ta.close()
            if tb2 is not None:
                await tb2.close()

    asyncio.run(main())
