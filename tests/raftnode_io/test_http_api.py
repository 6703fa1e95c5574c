"""HTTP layer robustness: garbage, huge headers, bad JSON, unknown ops get 4xx and the server
keeps serving; keep-alive, pipelining and 100-continue work. Runs against a fake node."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from raftnode.core.types import ClientReply, ClientRequest
from raftnode.http_api import Api, parse_kv_request
from raftnode.httpserver import MAX_HEADER_BYTES, HttpError, HttpServer


class FakeNode:
    """Applies writes to a dict at once; enough to see requests reach the node intact."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.seen: list[ClientRequest] = []
        self.dropped: list[str] = []
        self.n = 0

    async def submit(self, req: ClientRequest) -> ClientReply:
        self.seen.append(req)
        if req.key == "follower":
            return ClientReply(req.handle, ok=False, error="not-leader", leader="n2")
        if req.op == "write":
            self.data[req.key] = req.value  # type: ignore[index]
            return ClientReply(req.handle, ok=True, index=len(self.seen))
        if req.op == "cas":
            cur = self.data.get(req.key)  # type: ignore[arg-type]
            if cur != req.extra["old"]:
                return ClientReply(req.handle, ok=False, error="precondition-failed", value=cur)
            self.data[req.key] = req.extra["new"]  # type: ignore[index]
            return ClientReply(req.handle, ok=True, index=len(self.seen))
        return ClientReply(req.handle, ok=True, value=self.data.get(req.key))  # type: ignore[arg-type]

    def status(self) -> dict[str, Any]:
        return {"id": "n1", "role": "leader"}

    def partition(self) -> list[str]:
        return list(self.dropped)

    def set_partition(self, nodes: list[str]) -> None:
        self.dropped = list(nodes)

    def leader_client(self, leader: str | None) -> str | None:
        return "127.0.0.1:9999" if leader == "n2" else None

    def new_handle(self) -> str:
        self.n += 1
        return f"h{self.n}"


@contextlib.contextmanager
def serving(**options: Any) -> Iterator[tuple[int, FakeNode]]:
    """An HttpServer over a FakeNode on its own loop thread; yields (port, node)."""
    node = FakeNode()
    loop = asyncio.new_event_loop()
    srv = HttpServer(Api(node), **options)
    loop.run_until_complete(srv.start("127.0.0.1", 0))
    _SERVERS.append(srv)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield srv.port, node
    finally:
        asyncio.run_coroutine_threadsafe(srv.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        _SERVERS.remove(srv)


@pytest.fixture
def server() -> Iterator[tuple[int, FakeNode]]:
    with serving() as running:
        yield running


def _post(port: int, body: bytes | str, path: str = "/kv") -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", path, body=body)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def _raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


def _alive(port: int) -> None:
    code, body = _post(port, json.dumps({"op": "write", "key": "alive", "value": 1}))
    assert code == 200 and body["ok"] is True


def test_write_read_cas(server) -> None:
    port, _ = server
    assert _post(port, json.dumps({"op": "write", "key": "a", "value": [1, "x"]}))[0] == 200
    code, body = _post(port, json.dumps({"op": "read", "key": "a"}))
    assert (code, body["value"]) == (200, [1, "x"])
    code, body = _post(port, json.dumps({"op": "cas", "key": "a", "old": 5, "new": 6}))
    assert code == 409 and body["error"] == "precondition-failed" and body["value"] == [1, "x"]
    code, body = _post(port, json.dumps({"op": "cas", "key": "a", "old": [1, "x"], "new": 6}))
    assert code == 200 and body == {"ok": True, "value": None, "index": 4}


def test_not_leader_carries_leader_address(server) -> None:
    port, _ = server
    code, body = _post(port, json.dumps({"op": "read", "key": "follower"}))
    assert code == 421
    assert body["error"] == "not-leader" and body["leader"] == "n2"
    assert body["leader_client"] == "127.0.0.1:9999"


@pytest.mark.parametrize(
    "body,needle",
    [
        ("{not json", "not valid JSON"),
        ("[1,2]", "JSON object"),
        ('{"op":"frobnicate","key":"a"}', "unknown op"),
        ('{"op":"write","value":1}', "'key'"),
        ('{"op":"write","key":7,"value":1}', "string"),
        ('{"op":"incr","key":"a","value":"1"}', "integer"),
        ('{"op":"write","key":"a","value":1,"client_id":"c"}', "together"),
        ("", "empty body"),
        (b"\xff\xfe\x00", "not valid JSON"),
    ],
)
def test_bad_requests_get_400_and_node_survives(server, body, needle) -> None:
    port, node = server
    before = len(node.seen)
    code, resp = _post(port, body)
    assert code == 400 and resp["ok"] is False and resp["error"] == "bad-request"
    assert needle in resp["message"]
    assert len(node.seen) == before  # never reached the node
    _alive(port)


@pytest.mark.parametrize(
    "raw,status",
    [
        (b"GARBAGE\r\n\r\n", b"400"),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", b"400"),  # a TLS hello
        (b"GET /status HTTP/9.9\r\n\r\n", b"505"),
        (b"POST /kv HTTP/1.1\r\nContent-Length: nope\r\n\r\n", b"400"),
        (b"POST /kv HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n", b"413"),
        (b"POST /kv HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", b"501"),
        (b"GET /status HTTP/1.1\r\nbad header line\r\n\r\n", b"400"),
        (b"GET /nowhere HTTP/1.1\r\n\r\n", b"404"),
        (b"DELETE /kv HTTP/1.1\r\n\r\n", b"405"),
    ],
)
def test_garbage_on_the_wire(server, raw, status) -> None:
    port, _ = server
    out = _raw(port, raw)
    assert out.startswith(b"HTTP/1.1 " + status), out[:80]
    assert b'"ok":false' in out
    _alive(port)


def test_huge_headers_rejected(server) -> None:
    port, _ = server
    head = b"GET /status HTTP/1.1\r\nX-Big: " + b"a" * (MAX_HEADER_BYTES * 2) + b"\r\n\r\n"
    assert _raw(port, head).startswith(b"HTTP/1.1 431")
    _alive(port)


def test_truncated_body_and_abrupt_close(server) -> None:
    port, _ = server
    out = _raw(port, b'POST /kv HTTP/1.1\r\nContent-Length: 50\r\n\r\n{"op":')
    assert out == b""  # client went away mid-body: nothing to answer, nothing crashed
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"POST /kv HTTP/1.1\r\n")
    _alive(port)


def test_idle_and_half_sent_connections_are_closed() -> None:
    """A client that stops mid-head, or keeps an answered connection open and silent, is
    cut off after the idle timeout; the node keeps serving others."""
    with serving(idle_timeout_s=0.3) as (port, _):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as half:
            half.sendall(b"POST /kv HTTP/1.1\r\nContent-Le")
            started = time.monotonic()
            assert half.recv(100) == b""  # closed by the server, not by our timeout
            assert time.monotonic() - started < 4
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("POST", "/kv", body=json.dumps({"op": "read", "key": "k"}))
        assert conn.getresponse().read()
        time.sleep(1.0)
        assert conn.sock is not None and conn.sock.recv(100) == b""
        conn.close()
        _alive(port)


def test_keep_alive_and_pipelining(server) -> None:
    port, node = server
    reqs = b""
    for i in range(5):
        body = json.dumps({"op": "write", "key": f"p{i}", "value": i}).encode()
        reqs += b"POST /kv HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    reqs += b"GET /status HTTP/1.1\r\nConnection: close\r\n\r\n"
    out = _raw(port, reqs)
    assert out.count(b"HTTP/1.1 200 OK") == 6
    assert out.rstrip().endswith(b'"role":"leader"}')
    assert [r.key for r in node.seen] == [f"p{i}" for i in range(5)]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for i in range(3):  # the same connection is reused
        conn.request("POST", "/kv", body=json.dumps({"op": "read", "key": f"p{i}"}))
        resp = conn.getresponse()
        assert json.loads(resp.read())["value"] == i
    conn.close()


def test_expect_100_continue(server) -> None:
    port, _ = server
    body = json.dumps({"op": "write", "key": "big", "value": "x" * 3000}).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(
            b"POST /kv HTTP/1.1\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n" % len(body)
        )
        assert s.recv(64).startswith(b"HTTP/1.1 100 Continue")
        s.sendall(body)
        assert s.recv(4096).startswith(b"HTTP/1.1 200")


def test_admin_partition(server) -> None:
    port, node = server
    code, body = _post(port, json.dumps({"drop": ["n2", "n3"]}), "/admin/partition")
    assert code == 200 and body["drop"] == ["n2", "n3"] and node.dropped == ["n2", "n3"]
    code, body = _post(port, json.dumps({"drop": "n2"}), "/admin/partition")
    assert code == 400
    assert node.dropped == ["n2", "n3"]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/admin/partition")
    assert json.loads(conn.getresponse().read())["drop"] == ["n2", "n3"]
    conn.close()


def test_parse_kv_request_mapping() -> None:
    req = parse_kv_request(
        {"op": "transfer", "from": "a", "to": "b", "value": 5, "client_id": "c1", "seq": 3}, "h"
    )
    assert (req.op, req.key, req.value, req.extra) == (
        "transfer",
        None,
        5,
        {"from": "a", "to": "b"},
    )
    assert (req.client_id, req.seq) == ("c1", 3)
    with pytest.raises(HttpError):
        parse_kv_request({"op": "incr", "key": "a", "value": True}, "h")


# -- hardening (issue 11, item 4) ------------------------------------------------------


@pytest.mark.parametrize(
    "raw,needle",
    [
        (b"POST /kv HTTP/1.1\r\nContent-Length: \xb2\r\n\r\n{}", b"Content-Length"),  # "²"
        (b"POST /kv HTTP/1.1\r\nContent-Length: 1\xb3\r\n\r\n{}", b"Content-Length"),  # "1³"
        (b"POST /kv HTTP/1.1\r\nContent-Length: \xc2\xb2\r\n\r\n{}", b"Content-Length"),
        (b"POST /kv HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}", b"duplicate"),
        (b"POST /kv HTTP/1.1\r\nContent-Length: 2\r\ncontent-length: 9\r\n\r\n{}", b"duplicate"),
        (b"POST /kv HTTP/1.1\r\nContent-Length: 2, 2\r\n\r\n{}", b"Content-Length"),
        (b"POST /kv HTTP/1.1\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n", b"Content-Length"),
    ],
)
def test_bad_content_length_is_400_without_traceback(server, caplog, raw, needle) -> None:
    port, node = server
    with caplog.at_level("DEBUG"):
        out = _raw(port, raw)
    assert out.startswith(b"HTTP/1.1 400") or out.startswith(b"HTTP/1.1 413"), out[:120]
    assert needle in out
    assert "Traceback" not in caplog.text and "ERROR" not in caplog.text
    assert node.seen == []
    _alive(port)


@pytest.mark.parametrize(
    "value", ["NaN", "Infinity", "-Infinity", "1e400", "[1, -1e999]", '{"a": NaN}']
)
def test_nan_and_infinity_are_refused(server, value) -> None:
    port, node = server
    code, resp = _post(port, '{"op": "write", "key": "f", "value": ' + value + "}")
    assert code == 400 and resp["error"] == "bad-request", resp
    assert "NaN" in resp["message"] or "finite" in resp["message"]
    assert node.seen == []


def test_responses_are_standard_json() -> None:
    from raftnode.httpserver import Response, encode_response

    out = encode_response(Response(200, {"value": float("nan")}), keep_alive=True)
    assert out.startswith(b"HTTP/1.1 500") and b"NaN" not in out


def test_deeply_nested_values_are_refused(server) -> None:
    """Nesting deep enough to reach Python's recursion limit somewhere on the way (storage,
    digest, peer encoding) used to answer 500 with an ERROR in the log."""
    port, node = server
    for depth in (65, 500, 970, 5000):
        value = "[" * depth + "]" * depth
        code, resp = _post(port, '{"op": "write", "key": "d", "value": ' + value + "}")
        assert code == 400 and "nested" in resp["message"], (depth, resp)
    assert node.seen == []
    value = "[" * 60 + "]" * 60
    assert _post(port, '{"op": "write", "key": "d", "value": ' + value + "}")[0] == 200


def test_a_client_that_pipelines_without_reading_is_throttled() -> None:
    """Replies owed to one connection are bounded: once its client stops reading, the
    server stops reading that connection (TCP pushes back) instead of buffering answers
    without limit; when the client reads again, every request is answered in order."""
    from raftnode.httpserver import MAX_PIPELINED

    with serving() as (port, node):
        body = json.dumps({"op": "write", "key": "p", "value": "x" * 200}).encode()
        one = b"POST /kv HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        s = socket.socket()
        for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):  # small kernel buffers both ways, so
            s.setsockopt(socket.SOL_SOCKET, opt, 4096)  # TCP pushes back after a few KiB
        s.connect(("127.0.0.1", port))
        deadline = time.monotonic() + 10
        while not _conns_of(port):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        _conns_of(port)[0].transport.get_extra_info("socket").setsockopt(
            socket.SOL_SOCKET, socket.SO_SNDBUF, 4096
        )
        s.setblocking(False)
        sent, stalled_since = 0, None
        data = one * 200
        while stalled_since is None or time.monotonic() - stalled_since < 1.0:
            try:
                n = s.send(data)
                sent += n
                data = data[n:] or one * 200
                stalled_since = None
                assert sent < 64 << 20, "the server kept reading a client that never reads"
            except BlockingIOError:
                stalled_since = stalled_since or time.monotonic()
                time.sleep(0.01)
        requests = sent // len(one)
        assert len(node.seen) <= requests
        # the server holds no more than MAX_PIPELINED answers for this connection
        (conn,) = [c for c in _conns_of(port)]
        assert len(conn.slots) <= MAX_PIPELINED
        assert conn.transport.get_write_buffer_size() < 1 << 20
        # read everything: the server resumes and answers every complete request
        s.setblocking(True)
        s.shutdown(socket.SHUT_WR)
        got = b""
        while chunk := s.recv(1 << 16):
            got += chunk
        s.close()
        assert got.count(b"HTTP/1.1 200 OK") == requests


_SERVERS: list = []


def _conns_of(port: int) -> list:
    return [c for srv in _SERVERS if srv.port == port for c in list(srv._conns)]
