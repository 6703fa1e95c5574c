"""How `splitbrain check` scales with a big history: wall time and peak RSS.

    python bench/history_scale.py [--mb 100] [--keep DIR] [--code CHECKOUT]

Generates a linearizable kv history (concurrency 10, 1% info ops, 10 keys per 20,000
ops; lines as the recorder writes them, ~115 bytes each) of about `--mb` megabytes into
a store directory with a test.yaml, then runs `python -m harness.cli check STORE_DIR`
in a child process and prints its wall time, CPU time, peak RSS (ru_maxrss of the
child) and exit code. `--code` runs the check with another checkout's code (e.g. an
older commit) for a before/after comparison; `--keep` writes (or reuses) the store
there. Asserts nothing: the figures go into docs/checkers.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from checkers.lin_gen import generate  # noqa: E402

KEYS = 10
CONCURRENCY = 10
BYTES_PER_OP = 205  # an invocation line plus a completion line, as the recorder writes them


def write_history(path: Path, megabytes: float, seed: int = 1) -> tuple[int, int]:
    """Write the history in chunks of generated ops (each chunk linearizable on its own
    keys, so the whole file is); returns (lines, bytes)."""
    target = int(megabytes * 1_000_000)
    lines = written = index = 0
    process_base = 0
    chunk = 0
    with open(path, "w", encoding="utf-8") as stream:
        while written < target:
            ops = generate(
                "kv",
                n_ops=20_000,
                keys=KEYS,
                concurrency=CONCURRENCY,
                info_rate=0.01,
                seed=seed + chunk,
            )
            top = process_base
            for op in ops:
                record = {
                    "index": index,
                    "time": index * 1_000,
                    "process": op.process + process_base,
                    "type": op.type,
                    "f": op.f,
                    "key": f"{op.key}-{chunk}",  # fresh keys per chunk: no cross-chunk order
                    "value": op.value,
                    "node": f"n{op.process % 5 + 1}",
                }
                if op.error is not None:
                    record["error"] = op.error
                line = json.dumps(record, separators=(",", ":")) + "\n"
                stream.write(line)
                written += len(line)
                lines += 1
                index += 1
                top = max(top, record["process"] + 1)
            process_base = top
            chunk += 1
    return lines, written


def run_check(store: Path, code: Path) -> tuple[float, float, float, int]:
    """(wall s, CPU s, peak RSS MiB, exit code) of `splitbrain check STORE` in a child."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "check", str(store)],
        cwd=code,
        env={**os.environ, "PYTHONPATH": str(code)},
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if after.ru_maxrss <= before.ru_maxrss:
        print("note: peak RSS not above an earlier child's; the figure is a lower bound")
    print(proc.stdout.strip())
    if proc.stderr.strip():
        print(proc.stderr.strip())
    return wall, cpu, after.ru_maxrss / 1024, proc.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=100.0, help="history size in megabytes")
    parser.add_argument("--keep", type=Path, help="write the store here (reused if present)")
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout whose code checks")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sb-scale-") as tmp:
        store = args.keep or Path(tmp) / "store"
        store.mkdir(parents=True, exist_ok=True)
        (store / "test.yaml").write_text("workload: kv\n", encoding="utf-8")
        history = store / "history.jsonl"
        if not history.is_file():
            started = time.perf_counter()
            lines, size = write_history(history, args.mb)
            print(f"generated in {time.perf_counter() - started:.1f} s")
        else:
            with open(history, "rb") as stream:
                lines, size = sum(1 for _ in stream), history.stat().st_size
        print(f"history: {lines:,} lines, {size / 1e6:.1f} MB; checked with {args.code}")
        wall, cpu, peak, code = run_check(store, args.code.resolve())
        print(
            f"splitbrain check: {wall:.1f} s wall, {cpu:.1f} s CPU, "
            f"peak RSS {peak:.0f} MiB, exit {code}"
        )


if __name__ == "__main__":
    main()
