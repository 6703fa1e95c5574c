"""The runtime's Ready pipeline with a tiny fake core (no Raft): persist before reply, events
with "t"/"node", status fields, and group commit (many requests, fewer fsync batches)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from raftnode.core.types import ClientReply, Entry, HardState, PersistentState, Ready
from raftnode.runtime import NodeOptions, Runtime
from raftnode.storage import Storage
from raftnode.testing import http_json


class FakeLogic:
    """A single node that logs every write and acks it in the Ready after it is persisted."""

    def __init__(self, opts: NodeOptions, restored: PersistentState) -> None:
        self.last = restored.entries[-1].index if restored.entries else 0
        self.rd = Ready(events=[{"term": 0, "ev": "start", "last_index": self.last, "commit": 0}])
        self.ticks = 0
        self.unacked: list[ClientReply] = []

    def tick(self, wall_ns: int) -> None:
        self.ticks += 1

    def step(self, msg: Any) -> None:
        pass

    def submit(self, req: Any) -> None:
        self.last += 1
        self.rd.entries.append(
            Entry(term=1, index=self.last, command={"key": req.key, "value": req.value})
        )
        self.rd.hard_state = HardState(1, "n1", self.last)
        self.unacked.append(ClientReply(req.handle, ok=True, index=self.last))
        self.rd.events.append({"term": 1, "ev": "append", "index": self.last})

    def has_ready(self) -> bool:
        return not self.rd.empty()

    def ready(self) -> Ready:
        rd, self.rd = self.rd, Ready()
        return rd

    def advance(self, rd: Ready) -> None:
        # like the real core: a write is acknowledged in a later batch, once it is durable
        if rd.entries:
            self.rd.replies += self.unacked
            self.unacked = []

    def status(self) -> dict[str, Any]:
        return {
            "role": "leader",
            "term": 1,
            "leader": "n1",
            "commit_index": self.last,
            "ticks": self.ticks,
        }


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Runtime]:
    opts = NodeOptions(
        node_id="n1",
        peers={"n1": ("127.0.0.1", 0)},
        client=("127.0.0.1", 0),
        data_dir=tmp_path,
    )
    rt = Runtime(opts, logic_factory=FakeLogic)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(rt.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield rt
    finally:
        asyncio.run_coroutine_threadsafe(rt.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_reply_only_after_persist(node: Runtime, tmp_path: Path) -> None:
    port = node.http.port  # type: ignore[union-attr]
    for i in range(5):
        code, body = http_json(port, "POST", "/kv", {"op": "write", "key": f"k{i}", "value": i})
        assert code == 200 and body["index"] == i + 1
        # an independent reader already sees the acknowledged entry on disk
        state = Storage.open(tmp_path).load(repair=False)
        assert state.entries[-1].command == {"key": f"k{i}", "value": i}


def test_events_and_status(node: Runtime, tmp_path: Path) -> None:
    port = node.http.port  # type: ignore[union-attr]
    http_json(port, "POST", "/kv", {"op": "write", "key": "a", "value": 1})
    lines = [json.loads(x) for x in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert lines[0]["ev"] == "start" and lines[0]["node"] == "n1"
    assert lines[-1]["ev"] == "append" and lines[-1]["index"] == 1
    assert all(isinstance(x["t"], int) and x["t"] > 1_600_000_000 * 10**9 for x in lines)
    code, st = http_json(port, "GET", "/status")
    assert code == 200
    assert st["id"] == "n1" and st["role"] == "leader" and st["commit_index"] == 1
    assert st["wal_path"] == str((tmp_path / "wal.log").resolve())
    assert st["wal_synced_bytes"] == (tmp_path / "wal.log").stat().st_size > 0
    assert st["bugs"] == [] and st["peers"] == {"n1": {"addr": "127.0.0.1:0"}}
    assert isinstance(st["pid"], int) and isinstance(st["wall_clock_ns"], int)
    deadline = time.monotonic() + 30
    while http_json(port, "GET", "/status")[1]["ticks"] < 3:  # the ticker drives the core
        assert time.monotonic() < deadline, "no ticks reached the core"
        time.sleep(0.01)


def test_group_commit_under_concurrency(node: Runtime) -> None:
    port = node.http.port  # type: ignore[union-attr]
    before = node.status()["io"]["fsyncs"]

    def write(i: int) -> int:
        return http_json(port, "POST", "/kv", {"op": "write", "key": "g", "value": i})[0]

    with ThreadPoolExecutor(32) as pool:
        codes = list(pool.map(write, range(400)))
    assert codes == [200] * 400
    fsyncs = node.status()["io"]["fsyncs"] - before
    assert 0 < fsyncs < 400  # several writes shared one fsync
