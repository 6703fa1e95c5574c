"""Workers and the recorder, below the runner: retirement, error isolation, ordering."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from checkers.history import read_jsonl
from harness.core import generators as g
from harness.core.protocols import ClientResult
from harness.dbs.null import NullDB
from harness.recorder import Recorder
from harness.workers import ClientSlot, Shared, run_nemesis_op, start_threads


def null_db() -> NullDB:
    db = NullDB()
    db.setup(["n1", "n2"], {})
    for node in ("n1", "n2"):
        db.start(node)
    return db


class Explodes(g.Generator):
    """Raises for process 0, a few writes for everyone else."""

    def __init__(self) -> None:
        self.left = 5

    def next(self, process, now_s):
        if process == 0:
            raise RuntimeError("generator bug")
        if self.left == 0:
            return None
        self.left -= 1
        return g.OpRequest("write", 1, "k")


def test_a_crashing_worker_is_logged_and_the_rest_carry_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder(tmp_path / "h.jsonl")
    shared = Shared(Explodes(), recorder, threading.Event())
    db = null_db()
    slots = [ClientSlot(i, f"n{i + 1}", i, 2, db.client, 1.0) for i in range(2)]
    with caplog.at_level(logging.ERROR, logger="splitbrain.workers"):
        for thread in start_threads(slots, shared, None):
            thread.join(10)
    recorder.close()
    assert "worker-0 crashed" in caplog.text
    ops = read_jsonl(tmp_path / "h.jsonl").ops
    assert [(op.process, op.type) for op in ops] == [(1, "invoke"), (1, "ok")] * 5


class Flaky:
    """A client whose ops alternate info and ok; records which process opened it."""

    opened: list[int] = []

    def __init__(self, slot: ClientSlot):
        self.slot = slot
        self.calls = 0

    def open(self) -> None:
        Flaky.opened.append(self.slot.process)

    def invoke(self, f, key, value, timeout):
        self.calls += 1
        return ClientResult("info" if self.calls == 1 else "ok", value, None)

    def close(self) -> None:
        pass


def test_info_retires_the_process_and_opens_a_fresh_client(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "h.jsonl")
    shared = Shared(g.repeat(g.OpRequest("write", 1, "k"), times=3), recorder, threading.Event())
    slot = ClientSlot(1, "n2", 1, 4, lambda node: None, 1.0)  # type: ignore[arg-type]
    slot.make_client = lambda node: Flaky(slot)
    Flaky.opened = []
    for op in (shared.next(slot.process), shared.next(slot.process)):
        slot.invoke(shared, op)
    recorder.close()
    ops = read_jsonl(tmp_path / "h.jsonl").ops
    assert [(op.process, op.type) for op in ops] == [
        (1, "invoke"),
        (1, "info"),
        (5, "invoke"),
        (5, "info"),
    ]
    assert Flaky.opened == [1, 5]  # the replacement process got a fresh client
    assert slot.process == 9


def test_connect_failure_is_a_definite_fail(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "h.jsonl")
    shared = Shared(g.seq([]), recorder, threading.Event())

    def refuse(node: str):
        raise ConnectionRefusedError("refused")

    slot = ClientSlot(0, "n1", 0, 1, refuse, 1.0)
    result = slot.invoke(shared, g.OpRequest("write", 3, "k"))
    recorder.close()
    assert result.type == "fail" and result.error.startswith("connection-error")
    assert slot.process == 0  # a fail does not retire


def test_nemesis_op_records_invoke_and_info(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "h.jsonl")
    done = run_nemesis_op(
        recorder, lambda f, v: {"nodes": ["n2"]}, g.OpRequest("start-kill", "one")
    )
    recorder.close()
    ops = read_jsonl(tmp_path / "h.jsonl").ops
    assert done == {"nodes": ["n2"]}
    assert [(op.process, op.type, op.f, op.value) for op in ops] == [
        ("nemesis", "invoke", "start-kill", "one"),
        ("nemesis", "info", "start-kill", {"nodes": ["n2"]}),
    ]
    assert recorder.counters.active_faults == {"kill": {"nodes": ["n2"]}}


def test_recorder_drops_writes_after_close(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "h.jsonl")
    assert recorder.record("invoke", "read", 0) is not None
    recorder.close()
    assert recorder.record("ok", "read", 0) is None
    assert len(read_jsonl(tmp_path / "h.jsonl").ops) == 1
