"""Benchmark the non-linearizability checkers: time and peak memory, as a table.

    python bench/safety_checkers.py [--sizes 10000,100000] [--nodes 3]

- raft-safety: a generated clean cluster log of N entries on `--nodes` nodes (append,
  commit every 10 entries, apply; a leader change every N/5 entries with a restart),
  written as events.jsonl files and checked from disk;
- set / counter / bank / durability / stats / errors: generated histories of N ops
  with concurrency 10 and 1% info ops.

Each case runs in a fresh subprocess so that peak RSS (ru_maxrss) is its own.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CASES = ("raft-safety", "set", "counter", "bank", "durability", "stats", "errors")


def write_cluster_events(root: Path, entries: int, nodes: int) -> None:
    """A correct run: leaders rotate, every node appends/commits/applies everything."""
    from checkers.raft_safety import LogEntry  # noqa: F401 - fail early if missing

    names = [f"n{i + 1}" for i in range(nodes)]
    files = {}
    for name in names:
        (root / name).mkdir(parents=True)
        files[name] = open(root / name / "events.jsonl", "w")  # noqa: SIM115
    t = 0

    def emit(node: str, term: int, ev: str, **fields: object) -> None:
        nonlocal t
        t += 1
        files[node].write(
            json.dumps({"t": t, "node": node, "term": term, "ev": ev, **fields}) + "\n"
        )

    term = 0
    per_term = max(entries // 5, 1)
    for name in names:
        emit(name, 0, "start", last_index=0, commit=0)
    for index in range(1, entries + 1):
        if (index - 1) % per_term == 0:
            term += 1
            leader = names[term % nodes]
            for name in names:
                if name != leader:
                    emit(name, term, "vote", **{"for": leader})
            emit(leader, term, "role", role="leader")
        digest = f"{index:016x}"
        for name in names:
            emit(name, term, "append", index=index, entry_term=term, digest=digest)
        if index % 10 == 0 or index == entries:
            for name in names:
                emit(name, term, "commit", index=index)
                for applied in range(max(index - 9, 1), index + 1):
                    emit(
                        name,
                        term,
                        "apply",
                        index=applied,
                        entry_term=term,
                        digest=f"{applied:016x}",
                    )
    for f in files.values():
        f.close()


def make_history(case: str, n_ops: int, seed: int = 1):
    """A generated history for one history checker: concurrency 10, 1% info ops."""
    from checkers.history import Op

    rng = random.Random(seed)
    ops: list[Op] = []
    pending: dict[int, tuple[str, object, object]] = {}
    procs = list(range(10))
    next_proc = 10
    total = 0
    element = 0
    members: list[int] = []
    counter_value = 0
    balances = {f"a{i}": 100 for i in range(5)}
    register = {}

    def add(
        type_: str, proc: int, f: str, value: object, key: object = None, **extra: object
    ) -> None:
        ops.append(
            Op(
                type=type_,
                f=f,
                process=proc,
                value=value,
                key=key,
                time=len(ops) * 1000,
                index=len(ops),
                extra=extra,
            )
        )

    while total < n_ops:
        slot = rng.randrange(10)
        proc = procs[slot]
        if proc in pending:
            f, value, key = pending.pop(proc)
            if rng.random() < 0.01 and f != "read":
                add("info", proc, f, value, key, error="timeout")
                procs[slot] = next_proc
                next_proc += 1
                continue
            result = value
            if f == "read":
                if case in ("set",):
                    result = list(members)
                elif case == "counter":
                    result = counter_value
                elif case == "bank":
                    result = dict(balances)
                else:
                    result = register.get(key)
            elif f in ("add", "append"):
                members.append(value)
            elif f == "incr":
                counter_value += value
            elif f == "write":
                register[key] = value
            add("ok", proc, f, result, key)
            continue
        total += 1
        # Set reads return the whole set: a few hundred of them, as set-full tests do.
        is_read = rng.random() < (0.003 if case == "set" else 0.3)
        key = None
        if case == "set":
            element += 1
            f, value = ("read", None) if is_read else ("add", element)
        elif case == "counter":
            f, value = ("read", None) if is_read else ("incr", 1)
        elif case == "bank":
            f, value = (
                ("read", None) if is_read else ("transfer", {"from": "a0", "to": "a1", "amount": 0})
            )
        else:
            key = f"k{rng.randrange(10)}"
            f, value = ("read", None) if is_read else ("write", rng.randrange(1000))
        pending[proc] = (f, value, key)
        add("invoke", proc, f, value, key)
    for proc, (f, value, key) in pending.items():
        add("info", proc, f, value, key)
    for key in sorted(register):
        add("invoke", 999, "read", None, key, final=True)
        add("ok", 999, "read", register[key], key, final=True)
    return ops


def run_case(case: str, size: int, nodes: int) -> dict[str, object]:
    """Generate the input, then time the check (generation is not timed)."""
    if case == "raft-safety":
        from checkers.raft_safety import check_events

        with tempfile.TemporaryDirectory(prefix="sbbench") as tmp:
            write_cluster_events(Path(tmp), size, nodes)
            started, cpu = time.perf_counter(), time.process_time()
            result = check_events(tmp)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    else:
        import importlib

        module = importlib.import_module({"set": "checkers.sets"}.get(case, f"checkers.{case}"))
        ops = make_history(case, size)
        started, cpu = time.perf_counter(), time.process_time()
        result = module.check(ops)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "case": case,
        "size": size,
        "valid": result.valid,
        "seconds": round(elapsed, 3),
        "cpu": round(cpu, 3),
        "peak_mib": round(peak_mib),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated entry/op counts")
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--one", nargs=2, metavar=("CASE", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_case(args.one[0], int(args.one[1]), args.nodes)))
        return
    sizes = [int(s) for s in args.sizes.split(",") if s]
    print(f"{'checker':<12} {'size':>8} {'valid':>8} {'check s':>9} {'cpu s':>8} {'peak MiB':>9}")
    for case in args.cases.split(","):
        for size in sizes:
            done = subprocess.run(
                [sys.executable, __file__, "--one", case, str(size), "--nodes", str(args.nodes)],
                capture_output=True, text=True, cwd=ROOT,
            )  # fmt: skip
            if done.returncode != 0:
                print(f"{case:<12} {size:>8} failed: {done.stderr.strip().splitlines()[-1:]}")
                continue
            row = json.loads(done.stdout)
            print(
                f"{case:<12} {size:>8} {str(row['valid']):>8} {row['seconds']:>9} "
                f"{row['cpu']:>8} {row['peak_mib']:>9}"
            )


if __name__ == "__main__":
    main()
