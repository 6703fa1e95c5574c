"""Benchmark the linearizability checker. Prints tables; asserts nothing.

    python bench/checker.py [--quick] [--data DIR] [--budget SECONDS]

1. Every shared Porcupine history (../shared/data/porcupine/expected.tsv): time per
   file, expected vs got verdict, total.
2. Generated histories (register: one key; kv: 10 keys; concurrency 10; 1% info ops)
   of 1k, 10k and 100k ops: check time, configurations explored and peak memory. Each
   runs in a fresh child process so that its peak RSS (ru_maxrss) is its own.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from checkers.formats import load_history  # noqa: E402
from checkers.history import pair_history  # noqa: E402
from checkers.lin_gen import generate  # noqa: E402
from checkers.linearizability import check  # noqa: E402

DEFAULT_DATA = Path("/work/shared/data/porcupine")
VERDICT = {True: "ok", False: "illegal", "unknown": "unknown"}


def porcupine(data: Path, budget: float) -> bool:
    with open(data / "expected.tsv", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream, delimiter="\t"))
    print(f"{'file':<24} {'ops':>5} {'expected':>8} {'got':>8} {'seconds':>8}")
    total = 0.0
    matched = 0
    for row in rows:
        read = load_history(data / row["file"])
        model = "cas-register" if row["file"].startswith("jepsen/") else "porcupine-kv"
        started = time.perf_counter()
        result = check(read.ops, model, budget_s=budget)
        spent = time.perf_counter() - started
        total += spent
        got = VERDICT[result.valid]
        matched += got == row["expected"]
        ops = len(pair_history(read.ops).ops)
        flag = "" if got == row["expected"] else "  MISMATCH"
        print(f"{row['file']:<24} {ops:>5} {row['expected']:>8} {got:>8} {spent:>8.3f}{flag}")
    print(f"porcupine histories: {matched}/{len(rows)} as expected, total {total:.2f} s\n")
    return matched == len(rows)


def one(kind: str, n_ops: int, budget: float) -> dict:
    """Run in a child: generate, check, report time and this process's peak RSS.
    `kind` is register (one key), kv (10 keys), or either with `-bad`: the last ok read
    made impossible, so that proving it invalid needs the whole search space behind it."""
    base = kind.removesuffix("-bad")
    keys = 10 if base == "kv" else 1
    model = "cas-register"
    started = time.perf_counter()
    history = generate(model, n_ops=n_ops, keys=keys, concurrency=10, info_rate=0.01, seed=42)
    if kind.endswith("-bad"):
        last = [i for i, op in enumerate(history) if op.type == "ok" and op.f == "read"][-1]
        history[last].value = 999
    generated = time.perf_counter() - started
    started = time.perf_counter()
    result = check(history, model, budget_s=budget)
    spent = time.perf_counter() - started
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "kind": kind,
        "ops": n_ops,
        "keys": keys,
        "valid": VERDICT[result.valid],
        "seconds": spent,
        "generate_seconds": generated,
        "configs": result.configs,
        "parallel": result.parallel,
        "peak_mb": max(rss, children) / 1024,
    }


def generated(sizes: list[int], budget: float) -> None:
    print("generated: concurrency 10, 1% info ops; -bad: the last ok read made impossible")
    print(
        f"{'history':<12} {'ops':>7} {'keys':>4} {'verdict':>8} {'check s':>8} "
        f"{'configs':>9} {'peak MB':>8} {'pool':>5}"
    )
    cases = [(kind, n) for kind in ("register", "kv") for n in sizes]
    cases += [("register-bad", min(sizes[-1], 5000)), ("kv-bad", sizes[-1])]
    for kind, n_ops in cases:
        out = subprocess.run(
            [sys.executable, __file__, "--one", kind, str(n_ops), "--budget", str(budget)],
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            print(f"{kind:<12} {n_ops:>7} failed: {out.stderr.strip().splitlines()[-1:]}")
            continue
        r = json.loads(out.stdout)
        print(
            f"{kind:<12} {r['ops']:>7} {r['keys']:>4} {r['valid']:>8} {r['seconds']:>8.2f} "
            f"{r['configs']:>9} {r['peak_mb']:>8.0f} {'yes' if r['parallel'] else 'no':>5}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--budget", type=float, default=120.0)
    parser.add_argument("--quick", action="store_true", help="generated sizes 1k and 10k only")
    parser.add_argument("--one", nargs=2, metavar=("KIND", "OPS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], int(args.one[1]), args.budget)))
        return 0
    print(f"linearizability checker benchmark ({os.cpu_count()} CPUs)\n")
    ok = True
    if (args.data / "expected.tsv").exists():
        ok = porcupine(args.data, args.budget)
    else:
        print(f"no Porcupine data in {args.data}; skipped\n")
    generated([1000, 10000] if args.quick else [1000, 10000, 100000], args.budget)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
