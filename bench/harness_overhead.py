"""How many ops/s the runner can drive and record against the in-process null DB.

For concurrency 1, 10 and 100 it runs the real worker machinery (generator under one
lock, client invoke, invoke + completion written and flushed to history.jsonl) for a
few seconds and prints recorded ops/s and the harness's own cost per op in µs (wall
time per op minus the null DB's bare invoke cost). It also runs the same loop as
asyncio tasks, to back the choice of threads (harness/workers.py).

    python bench/harness_overhead.py [--seconds 3] [--concurrency 1,10,100]

Target: ≥ 10,000 recorded ops/s at concurrency 100 (threads).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import threading
import time
from pathlib import Path

from harness.core import generators as g
from harness.dbs.null import NullDB
from harness.recorder import Recorder
from harness.workers import ClientSlot, Shared, start_threads
from workloads import build

NODES = ["n1", "n2", "n3", "n4", "n5"]


def fresh(seconds: float) -> tuple[NullDB, g.Generator]:
    db = NullDB()
    db.setup(NODES, {})
    for node in NODES:
        db.start(node)
    return db, g.time_limit(seconds, build("kv").generator).bind(1)


def bare_invoke_us(samples: int = 50_000) -> float:
    """The null DB's own cost per invoke (no recording), to subtract."""
    db, _ = fresh(1.0)
    client = db.client("n1")
    started = time.perf_counter()
    for i in range(samples):
        client.invoke("write", f"k{i % 10}", i, 1.0)
    return (time.perf_counter() - started) / samples * 1e6


def run_threads(concurrency: int, seconds: float, path: Path) -> tuple[int, float]:
    db, gen = fresh(seconds)
    recorder = Recorder(path)
    shared = Shared(gen, recorder, threading.Event())
    slots = [
        ClientSlot(i, NODES[i % len(NODES)], i, concurrency, db.client, 1.0)
        for i in range(concurrency)
    ]
    started = time.perf_counter()
    for thread in start_threads(slots, shared, None):
        thread.join()
    elapsed = time.perf_counter() - started
    recorder.close()
    return recorder.counters.completed, elapsed


def run_asyncio(concurrency: int, seconds: float, path: Path) -> tuple[int, float]:
    db, gen = fresh(seconds)
    recorder = Recorder(path)

    async def worker(slot: int) -> None:
        process = slot
        client = db.client(NODES[slot % len(NODES)])
        while True:
            answer = gen.next(process, recorder.now_s())  # one event loop: no lock needed
            if answer is None:
                return
            if isinstance(answer, g.Sleep):
                await asyncio.sleep(answer.seconds)
                continue
            recorder.record("invoke", answer.f, process, answer.value, answer.key)
            result = client.invoke(answer.f, answer.key, answer.value, 1.0)
            recorder.record(result.type, answer.f, process, result.value, answer.key)
            await asyncio.sleep(0)  # yield, as a real network await would

    async def main() -> None:
        await asyncio.gather(*(worker(i) for i in range(concurrency)))

    started = time.perf_counter()
    asyncio.run(main())
    elapsed = time.perf_counter() - started
    recorder.close()
    return recorder.counters.completed, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="run time per measurement")
    parser.add_argument("--concurrency", default="1,10,100", help="comma-separated levels")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    invoke_us = bare_invoke_us()
    print(f"null DB bare invoke: {invoke_us:.2f} µs/op (subtracted below)")
    print(f"{'driver':<8} {'conc':>5} {'ops':>9} {'ops/s':>10} {'µs/op':>8} {'overhead µs/op':>15}")
    with tempfile.TemporaryDirectory(prefix="sb-bench-") as tmp:
        for driver, run in (("threads", run_threads), ("asyncio", run_asyncio)):
            for concurrency in levels:
                path = Path(tmp) / f"{driver}-{concurrency}.jsonl"
                ops, elapsed = run(concurrency, args.seconds, path)
                rate = ops / elapsed
                per_op = 1e6 / rate
                print(
                    f"{driver:<8} {concurrency:>5} {ops:>9} {rate:>10,.0f} {per_op:>8.1f} "
                    f"{per_op - invoke_us:>15.1f}"
                )
                path.unlink()


if __name__ == "__main__":
    main()
