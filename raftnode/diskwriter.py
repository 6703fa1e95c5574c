"""The disk thread: persists Ready batches in order, as many per fsync as are waiting.

Why a thread: fdatasync blocks for milliseconds (far more on a busy disk); on the event loop
that would stall every socket. Why one thread and a FIFO: storage is append-only and order
matters (a truncation must land before the entries that follow it). Why batches of batches:
while one fsync runs, the loop keeps producing Readies; the next round writes all of them and
syncs once, so under load the number of fsyncs stays flat while the writes per fsync grow.

Completions are handed back to the event loop in submission order, with one wake-up per round.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from raftnode.core.types import Ready
from raftnode.storage import Storage

# on_done(jobs, seconds, error): jobs in submission order; called on the event loop.
DoneCallback = Callable[[list[Any], float, BaseException | None], None]


class DiskWriter:
    """Runs `storage.save`/`compact` for submitted (Ready, token) jobs on one thread."""

    def __init__(self, storage: Storage, loop: asyncio.AbstractEventLoop, on_done: DoneCallback):
        self.storage = storage
        self.loop = loop
        self.on_done = on_done
        self.rounds = 0  # write rounds (each at most one fsync)
        self.fsyncs = 0
        self._q: queue.SimpleQueue[tuple[Ready, Any] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="raftnode-disk", daemon=True)
        self._thread.start()

    def submit(self, rd: Ready, token: Any) -> None:
        self._q.put((rd, token))

    def close(self, timeout: float = 30.0) -> None:
        """Finish what was submitted, then stop the thread."""
        self._q.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            first = self._q.get()
            if first is None:
                return
            jobs = [first]
            stop = False
            while True:
                try:
                    nxt = self._q.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                jobs.append(nxt)
            t0 = time.perf_counter()
            error: BaseException | None = None
            try:
                need_sync = False
                for rd, _ in jobs:
                    if rd.hard_state is not None or rd.entries or rd.snapshot is not None:
                        need_sync |= self.storage.save(
                            rd.hard_state, rd.entries, rd.snapshot, sync=False
                        )
                    if rd.compact_to:
                        self.storage.compact(rd.compact_to)
                if need_sync:
                    self.storage.sync()
                    self.fsyncs += 1
            except BaseException as exc:  # reported to the loop, which stops the node
                error = exc
            self.rounds += 1
            seconds = time.perf_counter() - t0
            tokens = [token for _, token in jobs]
            try:
                self.loop.call_soon_threadsafe(self.on_done, tokens, seconds, error)
            except RuntimeError:
                return  # the loop is closed: the node is gone
            if stop or error is not None:
                return
