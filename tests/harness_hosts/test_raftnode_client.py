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
