"""RaftnodeClient classification against a scripted HTTP server (no raftnode needed)."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness.dbs.raftnode_client import RaftnodeClient, build_body, classify


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[dict] = []
    connections: set[tuple[str, int]] = set()

    def log_message(self, *args):  # quiet
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append(body)
        # The peer address names the TCP connection; id() of a closed socket is reused.
        type(self).connections.add(self.client_address)
        key = body.get("key") or ""
        if key == "hang":
            time.sleep(1.5)
        if key == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        status, payload = (
            200,
            {"ok": True, "value": ["v"] if body["op"] == "read" else None, "index": 1},
        )
        if key.startswith("status-"):
            status = int(key.split("-")[1])
            payload = {
                "ok": False,
                "error": {
                    404: "not-found",
                    409: "precondition-failed",
                    421: "not-leader",
                    503: "unavailable",
                    504: "timeout",
                    400: "bad-request",
                }.get(status, "x"),
            }
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        if key == "idle-close":
            # Answer as keep-alive, then close: the next request must reconnect, not fail.
            self.close_connection = True


@pytest.fixture
def server():
    Handler.seen = []
    Handler.connections = set()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def client(server):
    c = RaftnodeClient("127.0.0.1", server.server_address[1], node="n1")
    c.open()
    yield c
    c.close()


def test_ok_read_returns_value_and_writes_echo(client):
    assert client.invoke("read", "k", None, 5).__dict__ == {
        "type": "ok",
        "value": ["v"],
        "error": None,
    }
    assert client.invoke("cas", "k", [1, 2], 5).value == [1, 2]
    assert client.invoke("add", "s", 7, 5).value == 7
    assert Handler.seen[1] == {
        "op": "cas",
        "key": "k",
        "old": 1,
        "new": 2,
        "client_id": client.client_id,
        "seq": 1,
    }
    assert Handler.seen[2]["op"] == "append" and Handler.seen[2]["seq"] == 2
    assert "client_id" not in Handler.seen[0]
    assert len(Handler.connections) == 1  # keep-alive: one connection for all


@pytest.mark.parametrize(
    ("status", "kind"),
    [(400, "fail"), (404, "fail"), (409, "fail"), (421, "fail"), (503, "fail"), (504, "info")],
)
def test_status_mapping(client, status, kind):
    result = client.invoke("write", f"status-{status}", 1, 5)
    assert result.type == kind
    assert result.error is not None and result.error != ""


def test_timeout_after_sending_is_info(client):
    result = client.invoke("write", "hang", 1, 0.3)
    assert result.type == "info" and result.error == "timeout"


def test_connection_lost_after_sending_is_info(client):
    result = client.invoke("write", "drop", 1, 5)
    assert result.type == "info" and "connection lost" in result.error


def test_refused_before_sending_is_fail():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = RaftnodeClient("127.0.0.1", port).invoke("write", "k", 1, 2)
    assert result.type == "fail" and result.error.startswith("connect")


def test_idle_close_by_server_reconnects_without_info(client):
    assert client.invoke("write", "idle-close", 1, 5).type == "ok"
    time.sleep(0.1)
    assert client.invoke("write", "k", 2, 5).type == "ok"
    assert len(Handler.connections) == 2


def test_request_bodies():
    assert build_body("transfer", None, {"from": "a", "to": "b", "amount": 3}) == {
        "op": "transfer",
        "from": "a",
        "to": "b",
        "value": 3,
    }
    assert build_body("incr", 3, 2) == {"op": "incr", "key": "3", "value": 2}
    assert build_body("delete", "k", None) == {"op": "delete", "key": "k"}
    with pytest.raises(ValueError):
        build_body("cas", "k", 5)
    with pytest.raises(ValueError):
        build_body("frobnicate", "k", 5)
    assert classify("read", None, 200, {"value": None}).value is None
    assert classify("write", 1, 500, {}).type == "info"


def test_malformed_op_is_fail_without_network():
    result = RaftnodeClient("127.0.0.1", 1).invoke("cas", "k", "not a pair", 1)
    assert result.type == "fail" and "bad-request" in result.error


# -- fail-over ---------------------------------------------------------------------------


class Scripted(BaseHTTPRequestHandler):
    """One node of a scripted cluster: answers each POST by popping its server's script
    (status, payload, delay_s), then repeats the last entry; records what it saw."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        srv = self.server
        srv.seen.append(body)
        status, payload, delay = srv.script[0] if len(srv.script) == 1 else srv.script.pop(0)
        if delay:
            time.sleep(delay)
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client gave up on us


OK = (200, {"ok": True, "value": None, "index": 1}, 0)
NOT_LEADER = (421, {"ok": False, "error": "not-leader"}, 0)
UNAVAILABLE = (503, {"ok": False, "error": "unavailable"}, 0)
HANG = (200, {"ok": True, "value": None, "index": 1}, 2.0)
TIMEOUT = (504, {"ok": False, "error": "timeout"}, 0)
PRECONDITION = (409, {"ok": False, "error": "precondition-failed", "value": 3}, 0)


@pytest.fixture
def nodes():
    """Three scripted nodes; each test sets their scripts."""
    servers = []
    for _ in range(3):
        srv = ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
        srv.daemon_threads = True
        srv.seen, srv.script = [], [OK]
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
    yield servers
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def failover_client(nodes, first=0):
    addrs = [("127.0.0.1", srv.server_address[1]) for srv in nodes]
    return RaftnodeClient(*addrs[first], node="n1", fallbacks=addrs)


def test_not_leader_fails_over_to_the_named_leader(nodes):
    leader = f"127.0.0.1:{nodes[2].server_address[1]}"
    nodes[0].script = [(421, {"ok": False, "error": "not-leader", "leader_client": leader}, 0)]
    client = failover_client(nodes)
    result = client.invoke("write", "k", 5, 3)
    assert result.type == "ok"
    assert len(nodes[0].seen) == 1 and len(nodes[2].seen) == 1 and nodes[1].seen == []
    assert nodes[2].seen[0] == nodes[0].seen[0]  # the same request: client_id and seq


def test_unavailable_and_refused_try_other_nodes(nodes):
    nodes[0].script = [UNAVAILABLE]
    with socket.socket() as s:  # a node that is down: nothing listens on its port
        s.bind(("127.0.0.1", 0))
        dead = ("127.0.0.1", s.getsockname()[1])
    addrs = [("127.0.0.1", nodes[0].server_address[1]), dead]
    client = RaftnodeClient(*addrs[0], fallbacks=addrs)
    result = client.invoke("write", "k", 1, 3)
    # node 0 unavailable, the dead node refused, node 0 again: all certain, so fail
    assert result.type == "fail" and result.error.startswith(("unavailable", "connect"))
    assert len(nodes[0].seen) == 2


def test_attempts_are_bounded_and_each_gets_a_share_of_the_timeout(nodes):
    for srv in nodes:
        srv.script = [HANG]
    client = failover_client(nodes)
    started = time.monotonic()
    result = client.invoke("write", "k", 1, 0.9)
    elapsed = time.monotonic() - started
    assert result.type == "info" and result.error == "indefinite: timeout"
    assert sum(len(srv.seen) for srv in nodes) == 3  # three attempts, one per node
    assert elapsed < 2.0  # three shares of 0.3 s, not three full timeouts (or the 2 s hang)
    ids = {(b["client_id"], b["seq"]) for srv in nodes for b in srv.seen}
    assert len(ids) == 1  # every retry reuses the request's id, so dedup applies


def test_ambiguous_attempt_then_definite_failure_is_indefinite_not_fail(nodes):
    nodes[0].script = [TIMEOUT]
    nodes[1].script = [PRECONDITION]
    client = failover_client(nodes)
    client._turn = len(client.fallbacks) - 1  # next rotation starts at nodes[1]
    result = client.invoke("cas", "k", [1, 2], 3)
    assert result.type == "info"
    assert result.error.startswith("indefinite:") and "precondition-failed" in result.error
    assert nodes[1].seen[0]["seq"] == nodes[0].seen[0]["seq"] == 1


def test_ambiguous_then_ok_is_ok_and_next_op_gets_a_new_seq(nodes):
    nodes[0].script = [TIMEOUT, OK]
    client = failover_client(nodes)
    assert client.invoke("write", "k", 1, 3).type == "ok"
    assert client.invoke("write", "k", 2, 3).type == "ok"
    seqs = [b["seq"] for srv in nodes for b in srv.seen]
    assert sorted(seqs) == [1, 1, 2]


def test_read_retries_without_indefinite_and_precondition_is_final(nodes):
    nodes[0].script = [TIMEOUT, OK]
    client = failover_client(nodes)
    read = client.invoke("read", "k", None, 3)
    assert read.type == "ok"  # a read has no effect: an earlier timeout changes nothing
    nodes[0].script = [PRECONDITION]
    cas = client.invoke("cas", "k", [1, 2], 3)
    assert cas.type == "fail" and cas.error == "precondition-failed"
    others = nodes[1].seen + nodes[2].seen
    assert [b["op"] for b in nodes[0].seen] == ["read", "cas"]  # a 409 is not retried
    assert [b["op"] for b in others] == ["read"]  # the read's retry went to another node


def test_without_fallbacks_one_attempt_as_before(nodes):
    nodes[0].script = [UNAVAILABLE]
    addr = ("127.0.0.1", nodes[0].server_address[1])
    result = RaftnodeClient(*addr).invoke("write", "k", 1, 3)
    assert result.type == "fail" and result.error == "unavailable"
    assert len(nodes[0].seen) == 1
