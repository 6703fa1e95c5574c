"""`python -m raftnode --maelstrom` as a process: init, lin-kv ops and their error codes,
peer messages on stdout, and durable state across a restart with --data-dir."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.process


class Node:
    """One raftnode under the Maelstrom protocol, driven line by line."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "raftnode", "--maelstrom", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.msg_id = 0

    def send(self, body: dict[str, Any], src: str = "c1", dest: str = "n1") -> int:
        self.msg_id += 1
        body = {**body, "msg_id": self.msg_id}
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"src": src, "dest": dest, "body": body}).encode() + b"\n")
        self.proc.stdin.flush()
        return self.msg_id

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, "the node closed stdout"
        return json.loads(line)

    def call(self, body: dict[str, Any]) -> dict[str, Any]:
        msg_id = self.send(body)
        while True:
            msg = self.read()
            if msg["body"].get("in_reply_to") == msg_id:
                return msg["body"]

    def stop(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()  # stdin EOF: the network is gone, the node stops
        return self.proc.wait(timeout=20)


def init(node: Node, ids: list[str]) -> dict[str, Any]:
    return node.call({"type": "init", "node_id": "n1", "node_ids": ids})


def until_ok(node: Node, body: dict[str, Any]) -> dict[str, Any]:
    """Retry while the node answers 11 (no leader yet); a deadline, not a count."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        reply = node.call(body)
        if reply["type"] != "error":
            return reply
        assert reply["code"] == 11, reply
        time.sleep(0.05)
    pytest.fail(f"no answer but 11 to {body} from a one-node cluster")


def wait_write(node: Node, key: Any, value: Any) -> None:
    assert until_ok(node, {"type": "write", "key": key, "value": value})["type"] == "write_ok"


def test_lin_kv_ops_and_error_codes(tmp_path: Path) -> None:
    node = Node("--data-dir", str(tmp_path / "data"))
    try:
        assert init(node, ["n1"])["type"] == "init_ok"
        wait_write(node, 3, 4)  # Maelstrom keys are usually integers
        read = node.call({"type": "read", "key": 3})
        assert (read["type"], read["value"]) == ("read_ok", 4)
        missing = node.call({"type": "read", "key": "nope"})
        assert (missing["type"], missing["code"]) == ("error", 20)
        assert node.call({"type": "cas", "key": 3, "from": 9, "to": 5})["code"] == 22
        assert node.call({"type": "cas", "key": "nope", "from": 1, "to": 2})["code"] == 20
        assert node.call({"type": "cas", "key": 3, "from": 4, "to": 5})["type"] == "cas_ok"
        assert node.call({"type": "write", "key": 3})["code"] == 12  # malformed
        assert node.call({"type": "txn", "key": 3})["code"] == 10  # not supported
    finally:
        assert node.stop() == 0
    assert (tmp_path / "data" / "events.jsonl").stat().st_size > 0


def test_state_survives_a_restart_with_a_data_dir(tmp_path: Path) -> None:
    node = Node("--data-dir", str(tmp_path))
    init(node, ["n1"])
    wait_write(node, "k", "kept")
    node.proc.kill()  # no clean shutdown: what was acknowledged is on disk
    node.proc.wait()
    again = Node("--data-dir", str(tmp_path))
    try:
        init(again, ["n1"])
        assert until_ok(again, {"type": "read", "key": "k"})["value"] == "kept"
    finally:
        again.stop()


def test_peers_talk_through_stdout_as_raft_messages() -> None:
    node = Node("--election-ms", "100", "--heartbeat-ms", "20")
    try:
        init(node, ["n1", "n2", "n3"])
        for _ in range(50):  # the election timer fires: (pre-)vote requests to both peers
            msg = node.read()
            if msg["dest"] in ("n2", "n3"):
                break
        assert msg["src"] == "n1" and msg["body"]["type"] == "raft"
        assert msg["body"]["msg"]["kind"] in ("prevote", "vote")
    finally:
        node.stop()
