"""Peer transport: delivery, the partition hook, malformed frames closing only their
connection, reconnection after a peer restarts, and the token handshake (wrong token,
replayed handshake, oversized frames before it)."""

from __future__ import annotations

import asyncio
import json
import struct

from raftnode.core.types import Entry, Message
from raftnode.testing import free_ports
from raftnode.transport import (
    MAX_HELLO_FRAME,
    Transport,
    encode_frame,
    handshake_proof,
    message_dict,
    read_frame,
)

TOKEN = b"s3cret-cluster-token"


async def _until(pred, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not pred():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


def _pair(token_a: bytes | None = TOKEN, token_b: bytes | None = TOKEN):
    p1, p2 = free_ports(2)
    peers = {"a": ("127.0.0.1", p1), "b": ("127.0.0.1", p2)}
    got: dict[str, list[Message]] = {"a": [], "b": []}
    ta = Transport("a", peers, got["a"].append, client_addr="127.0.0.1:1111", token=token_a)
    tb = Transport("b", peers, got["b"].append, client_addr="127.0.0.1:2222", token=token_b)
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
            tb2 = Transport("b", peers, got["b"].append, token=TOKEN)
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


def test_without_tokens_on_both_sides_peers_still_talk(caplog) -> None:
    """Hand-run clusters without a token keep working, with a warning per node."""

    async def main() -> None:
        _, got, ta, tb = _pair(None, None)
        await ta.start()
        await tb.start()
        try:
            ta.send(_msg("a", "b", 1))
            await _until(lambda: len(got["b"]) == 1)
        finally:
            await ta.close()
            await tb.close()

    with caplog.at_level("WARNING"):
        asyncio.run(main())
    assert caplog.text.count("UNAUTHENTICATED") == 2


def test_wrong_token_delivers_nothing(caplog) -> None:
    async def main() -> None:
        _, got, ta, tb = _pair(TOKEN, b"another-token")
        await ta.start()
        await tb.start()
        try:
            for t in range(1, 20):
                ta.send(_msg("a", "b", t))
                tb.send(_msg("b", "a", t))
                await asyncio.sleep(0.05)
            assert got == {"a": [], "b": []}
        finally:
            await ta.close()
            await tb.close()

    with caplog.at_level("WARNING"):
        asyncio.run(main())
    assert "did not prove the cluster token" in caplog.text


async def _handshake(addr, hello: bytes):
    """Open a connection as "a" (nonce "n"*32), send `hello`, read the challenge, answer it
    with the right proof. Returns (reader, writer, challenge, the third frame sent)."""
    r, w = await asyncio.open_connection(*addr)
    w.write(hello)
    challenge = await asyncio.wait_for(read_frame(r, MAX_HELLO_FRAME), 10)
    proof = handshake_proof(TOKEN, "dialer", "a", "b", "n" * 32, challenge["nonce"])
    third = encode_frame({"proof": proof, "client": ""})
    w.write(third)
    await w.drain()
    return r, w, challenge, third


def test_a_replayed_handshake_is_refused() -> None:
    """Someone who recorded a whole handshake (it is not encrypted) and plays it back gets
    a fresh challenge, so the recorded proof no longer fits and the link closes."""

    async def main() -> None:
        peers, got, _, tb = _pair()
        await tb.start()
        try:
            hello = encode_frame({"hello": "a", "nonce": "n" * 32})
            r, w, first, third = await _handshake(peers["b"], hello)
            want = handshake_proof(TOKEN, "listener", "a", "b", "n" * 32, first["nonce"])
            assert first["proof"] == want  # the listener proved the token too
            w.write(encode_frame(message_dict(_msg("a", "b", 1))))
            await _until(lambda: len(got["b"]) == 1)  # the genuine handshake worked
            w.close()
            r2, w2 = await asyncio.open_connection(*peers["b"])
            w2.write(hello)  # the recorded first frame ...
            second = await asyncio.wait_for(read_frame(r2, MAX_HELLO_FRAME), 10)
            assert second["nonce"] != first["nonce"]
            w2.write(third)  # ... and the recorded proof, made for the first challenge
            w2.write(encode_frame(message_dict(_msg("a", "b", 2))))
            await w2.drain()
            assert await asyncio.wait_for(r2.read(), 10) == b""  # closed by b
            w2.close()
            await asyncio.sleep(0.2)
            assert [m.term for m in got["b"]] == [1]
        finally:
            await tb.close()

    asyncio.run(main())


def test_frames_before_the_handshake_are_refused_and_bounded() -> None:
    """A Raft message (or anything) before the handshake closes the link unread, and a
    length prefix over a few KiB is refused at once: no waiting for (or buffering of) a
    100 MB body from someone who has not authenticated."""

    async def main() -> None:
        peers, got, _, tb = _pair()
        await tb.start()
        try:
            for first in (
                encode_frame({"hello": "a", "client": "x"}),  # the old, unauthenticated hello
                encode_frame(message_dict(_msg("a", "b", 1))),
                struct.pack(">I", 100 * 1024 * 1024),  # 100 MiB announced, nothing sent
                struct.pack(">I", MAX_HELLO_FRAME + 1),
            ):
                r, w = await asyncio.open_connection(*peers["b"])
                w.write(first + encode_frame(message_dict(_msg("a", "b", 2))))
                await w.drain()
                assert await asyncio.wait_for(r.read(), 5) == b"", first[:40]
                w.close()
            assert got["b"] == []
        finally:
            await tb.close()

    asyncio.run(main())
