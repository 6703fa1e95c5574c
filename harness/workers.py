"""Workers: the threads that pull ops from the generator and run them.

Client workers: ``concurrency`` slots; slot i talks to node ``nodes[i mod n]`` and runs
as process i. When an op ends ``info`` the process is retired (it may still be in
flight, as far as the checker knows) and the slot continues as process
``i + k·concurrency`` with a fresh client, as in Jepsen. The nemesis worker runs the
fault schedule as process ``"nemesis"``: an invoke, then an ``info`` completion carrying
what the fault actually did (or the error; a failing fault never stops the test).

Why threads and not asyncio: the Client protocol is blocking (http.client, paramiko),
so asyncio would need a thread per in-flight op anyway; bench/harness_overhead.py
measures both drivers against the null DB and threads are fast enough (docs/running.md).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.core.generators import NEMESIS, Generator, OpRequest, Sleep
from harness.core.protocols import Client, ClientResult
from harness.recorder import Recorder

# The longest a worker sleeps in one go, so it notices a stop promptly.
MAX_NAP_S = 0.25
# Errors meaning "node not reachable": the worker pauses briefly instead of spinning.
CONNECT_ERRORS = ("connect", "connection-refused", "connection-error")
log = logging.getLogger("splitbrain.workers")


@dataclass
class Shared:
    """State every worker of one phase shares."""

    gen: Generator
    recorder: Recorder
    stop: threading.Event
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next(self, process: int | str) -> OpRequest | Sleep | None:
        with self.lock:
            return self.gen.next(process, self.recorder.now_s())

    def retire(self, old: int, new: int) -> None:
        with self.lock:
            self.gen.retire(old, new)


def _wait(shared: Shared, seconds: float) -> None:
    shared.stop.wait(min(max(seconds, 0.0), MAX_NAP_S))


@dataclass
class ClientSlot:
    """One worker slot: its node and the process currently running in it."""

    slot: int
    node: str
    process: int
    concurrency: int
    make_client: Callable[[str], Client]
    op_timeout: float
    client: Client | None = None

    def ensure_client(self) -> Client:
        if self.client is None:
            client = self.make_client(self.node)
            client.open()
            self.client = client
        return self.client

    def drop_client(self) -> None:
        if self.client is not None:
            try:
                self.client.close()
            except Exception:  # noqa: BLE001 - a broken client is being discarded anyway
                pass
            self.client = None

    def invoke(self, shared: Shared, op: OpRequest) -> ClientResult:
        """Record invoke + completion for one op; retire the process if it ended info."""
        recorder = shared.recorder
        recorder.record(
            "invoke", op.f, self.process, op.value, op.key, node=self.node, extra=op.extra
        )
        try:
            client = self.ensure_client()
        except Exception as exc:  # noqa: BLE001 - never sent: the op certainly did not happen
            client = None
            result = ClientResult("fail", None, f"connection-error: {exc}")
            self.drop_client()
        try:
            if client is not None:
                result = client.invoke(op.f, op.key, op.value, self.op_timeout)
        except Exception as exc:  # noqa: BLE001 - a client bug is an indeterminate op
            result = ClientResult("info", None, f"client error: {exc}")
            log.info("process %s: client raised %s", self.process, exc)
        if result.type not in ("ok", "fail", "info"):
            result = ClientResult("info", None, f"client returned type {result.type!r}")
        value = result.value if result.type == "ok" else op.value
        recorder.record(
            result.type,
            op.f,
            self.process,
            value,
            op.key,
            error=result.error,
            node=self.node,
            extra=op.extra,
        )
        if result.type == "info":
            self.retire(shared)
        return result

    def retire(self, shared: Shared) -> None:
        new = self.process + self.concurrency
        shared.retire(self.process, new)
        self.process = new
        self.drop_client()


def run_client_slot(slot: ClientSlot, shared: Shared) -> None:
    """The worker thread body: ask, sleep or invoke, until exhausted or stopped."""
    try:
        while not shared.stop.is_set():
            answer = shared.next(slot.process)
            if answer is None:
                return
            if isinstance(answer, Sleep):
                _wait(shared, answer.seconds)
                continue
            result = slot.invoke(shared, answer)
            if result.type == "fail" and str(result.error or "").startswith(CONNECT_ERRORS):
                _wait(shared, 0.1)  # node down: do not spin on refused connections
    finally:
        slot.drop_client()


NemesisCall = Callable[[str, Any], Any]


def run_nemesis_op(recorder: Recorder, invoke: NemesisCall, op: OpRequest) -> Any:
    """One fault op: invoke record, apply it, info record with what was done."""
    recorder.record("invoke", op.f, NEMESIS, op.value, op.key, extra=op.extra)
    try:
        done = invoke(op.f, op.value)
        recorder.record("info", op.f, NEMESIS, done, op.key, extra=op.extra)
        return done
    except Exception as exc:  # noqa: BLE001 - a crashing fault must not end the test
        log.warning("nemesis %s failed: %s", op.f, exc)
        recorder.record("info", op.f, NEMESIS, op.value, op.key, error=str(exc), extra=op.extra)
        return None


def run_nemesis(shared: Shared, invoke: NemesisCall) -> None:
    """The nemesis thread body: the fault schedule on process "nemesis"."""
    while not shared.stop.is_set():
        answer = shared.next(NEMESIS)
        if answer is None:
            return
        if isinstance(answer, Sleep):
            _wait(shared, answer.seconds)
            continue
        run_nemesis_op(shared.recorder, invoke, answer)


def _guarded(body: Callable[..., None], name: str) -> Callable[..., None]:
    """A thread body whose unexpected errors go to controller.log, not to stderr as a
    traceback; the other workers carry on."""

    def run(*args: Any) -> None:
        try:
            body(*args)
        except Exception:  # noqa: BLE001 - logged with its traceback in controller.log
            log.exception("%s crashed", name)

    return run


def start_threads(
    slots: list[ClientSlot], shared: Shared, nemesis: NemesisCall | None
) -> list[threading.Thread]:
    """Start one daemon thread per slot (plus the nemesis). Daemon, so a worker stuck
    in a DB call can never keep the controller alive after teardown."""
    threads = [
        threading.Thread(
            target=_guarded(run_client_slot, f"worker-{slot.slot}"),
            args=(slot, shared),
            name=f"worker-{slot.slot}",
            daemon=True,
        )
        for slot in slots
    ]
    if nemesis is not None:
        threads.append(
            threading.Thread(
                target=_guarded(run_nemesis, "nemesis"),
                args=(shared, nemesis),
                name="nemesis",
                daemon=True,
            )
        )
    for thread in threads:
        thread.start()
    return threads
