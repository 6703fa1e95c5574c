"""Random frames at the peer ports and random HTTP at the client ports of a live 3-node
cluster (issue 11, "Done when"): afterwards every acknowledged write is still readable, no
node died and each still serves.

Each example throws a few peer frames (raw bytes, huge or bogus length prefixes, random
JSON, the old unauthenticated hello followed by a forged AppendEntries) and a few HTTP
requests (random methods, paths, headers — odd or doubled Content-Length, chunked, Expect —
and bodies: garbage, random JSON with NaN/Infinity, kv operations with random fields), then
makes one genuine write. Fuzz keys use a lowercase alphabet and genuine keys start with
"ACK-", so the fuzz can never overwrite what is checked at the end."""

from __future__ import annotations

import itertools
import json
import random
import socket
import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raftnode.core.types import Entry, Message
from raftnode.http_api import OPS
from raftnode.testing import LoopbackCluster
from raftnode.transport import encode_frame, message_dict

pytestmark = pytest.mark.process

NODES = ["n1", "n2", "n3"]
KEYS = st.text(alphabet="abxyz019", max_size=4)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)


@st.composite
def peer_frames(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["bytes", "prefix", "json", "forged", "huge"]))
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "prefix":
        return struct.pack(">I", draw(st.integers(0, 2**32 - 1))) + draw(st.binary(max_size=64))
    if kind == "huge":
        return struct.pack(">I", draw(st.integers(5000, 2**32 - 1))) + b"\x00" * 4096
    if kind == "json":
        hello = st.fixed_dictionaries(
            {"hello": st.sampled_from(NODES) | KEYS, "nonce": st.text(max_size=40) | JSON},
            optional={"proof": st.text(max_size=70), "client": st.text(max_size=20)},
        )
        return b"".join(encode_frame(x) for x in draw(st.lists(hello | JSON, max_size=3)))
    src, dst = draw(st.sampled_from(NODES)), draw(st.sampled_from(NODES))
    term, index = draw(st.integers(0, 50)), draw(st.integers(0, 200))
    forged = Message(
        kind=draw(st.sampled_from(["append", "vote", "snapshot", "forward", "append_resp"])),
        src=src, dst=dst, term=term, log_index=index, log_term=term, commit=index + 1,
        entries=[Entry(term, index + 1, {"op": "write", "key": "ACK-0", "value": "forged"})],
    )  # fmt: skip
    return encode_frame({"hello": src, "client": "x"}) + encode_frame(message_dict(forged))


@st.composite
def http_requests(draw: st.DrawFn) -> bytes:
    method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PO ST", "\x16\x03"]))
    path = draw(st.sampled_from(["/kv", "/status", "/", "/kv?x=1", "kv", "/admin/partition"]))
    if path == "/admin/partition":
        method = "GET"  # a POST would really partition the cluster (unauthenticated by design)
    op = st.fixed_dictionaries(
        {"op": st.sampled_from((*OPS, "boom"))},
        optional={
            "key": KEYS | JSON, "value": JSON, "old": JSON, "new": JSON, "from": KEYS,
            "to": KEYS, "client_id": KEYS | JSON, "seq": st.integers(-3, 3) | JSON,
        },
    )  # fmt: skip
    body = draw(
        st.binary(max_size=200)
        | JSON.map(lambda v: json.dumps(v).encode())
        | op.map(lambda v: json.dumps(v).encode())
    )
    length = draw(
        st.sampled_from([str(len(body)), str(len(body)), "²", "-1", "1e3", "99999999", " 5", ""])
    )
    headers = [f"Content-Length: {length}"]
    headers += draw(
        st.lists(
            st.sampled_from(
                [
                    f"Content-Length: {len(body)}",
                    "Transfer-Encoding: chunked",
                    "Expect: 100-continue",
                    "Connection: close",
                    "X-Junk: \x01\x7f",
                    "bad header",
                ]
            ),
            max_size=2,
        )
    )
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(h + "\r\n" for h in headers) + "\r\n"
    return head.encode("latin-1") + body


def _send(port: int, data: bytes, *, answer: bool) -> bytes:
    """Send `data` on a fresh connection, half-close, and read whatever comes back."""
    out = b""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            while answer and (chunk := s.recv(65536)):
                out += chunk
    except OSError:
        pass  # a refused or reset connection is a fine answer to garbage
    return out


def test_random_frames_and_requests_lose_no_acknowledged_write(cluster: LoopbackCluster) -> None:
    acked: dict[str, Any] = {}
    counter = itertools.count()
    rng = random.Random(11)

    @settings(
        max_examples=120,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(
        frames=st.lists(st.tuples(st.sampled_from(NODES), peer_frames()), max_size=3),
        requests=st.lists(st.tuples(st.sampled_from(NODES), http_requests()), max_size=3),
    )
    def throw(frames: list[tuple[str, bytes]], requests: list[tuple[str, bytes]]) -> None:
        for node, frame in frames:
            _send(cluster.nodes[node].peer_port, frame, answer=False)
        for node, request in requests:
            reply = _send(cluster.nodes[node].client_port, request, answer=True)
            assert not reply.startswith(b"HTTP/1.1 500"), (request[:200], reply[:300])
        key = f"ACK-{next(counter)}"
        value = [rng.randrange(10**6), "v"]
        try:
            code, body = cluster.kv(rng.choice(NODES), {"op": "write", "key": key, "value": value})
        except OSError:
            return  # no answer: unknown outcome, not checked
        if code == 200:
            acked[key] = value

    throw()
    assert len(acked) > 50, f"only {len(acked)} genuine writes were acknowledged"
    for name in NODES:
        assert cluster.nodes[name].alive, cluster.log_text(name)[-2000:]
        assert cluster.status(name) is not None
        assert "Traceback" not in cluster.log_text(name), cluster.log_text(name)[-3000:]
    leader = cluster.wait_leader(timeout=60)
    for key, value in acked.items():
        code, body = cluster.kv_retry({"op": "read", "key": key}, prefer=leader)
        assert code == 200 and body["value"] == value, (key, code, body)
    code, body = cluster.kv_retry({"op": "read", "key": "ACK-0"}, prefer=leader)
    assert body["value"] != "forged"
