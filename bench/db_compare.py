"""Throughput and latency of every DB under the same load and the same faults.

Each DB runs the same `splitbrain test` spec (workload, nodes, client concurrency, rate,
time limit, nemesis, seed — so the same op streams and the same fault schedule) through
the real Runner, one after another; the numbers come from each run's history:
ok ops per second of the main phase (final and setup ops excluded) and the p50/p99
latency of the ok ops. A DB whose preflight refuses the spec (a binary that is not
installed, a fault it cannot take) is listed as skipped with the reason.

    python bench/db_compare.py [--dbs raftnode,etcd] [--cluster netns] [--time-limit 20]
        [--concurrency 6] [--rate 0] [--nemesis partition,kill] [--workload kv] [--seed 7]

Default DBs: every registered DB (harness.dbs.registry.available_dbs: raftnode, etcd,
pysyncobj, maelstrom — raftnode's core under the Maelstrom protocol — and any plug-in)
but the null DB. Default cluster: netns when this process may use namespaces (then
the nemesis is partition,kill), else local (kill,pause). Run dirs stay under --store.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from checkers.history import pair_history, read_jsonl
from checkers.stats import percentile
from harness.cluster import default_cluster_kind
from harness.core.protocols import HarnessError
from harness.dbs.registry import available_dbs
from harness.runner import Runner
from harness.spec import build_spec, validate_spec


@dataclass
class Row:
    db: str
    verdict: str = "-"
    ok_per_s: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    ok: int = 0
    fail: int = 0
    info: int = 0
    note: str = ""


def measure(run_dir: Path, db: str, verdict: str) -> Row:
    """ok/s and ok-latency percentiles of the main phase, from history.jsonl."""
    read = read_jsonl(run_dir / "history.jsonl")
    main = [
        op
        for op in read.ops
        if op.is_client and not (op.extra.get("final") or op.extra.get("setup"))
    ]
    paired = pair_history(main).ops
    row = Row(db, verdict)
    for op in paired:
        setattr(row, op.status, getattr(row, op.status) + 1)
    ok_latencies = sorted(
        op.ret_time - op.call_time for op in paired if op.status == "ok" and op.ret_time
    )
    if paired:
        start = min(op.call_time for op in paired)
        end = max(op.ret_time or op.call_time for op in paired)
        row.ok_per_s = row.ok / ((end - start) / 1e9) if end > start else None
    for name, q in (("p50_ms", 0.5), ("p99_ms", 0.99)):
        value = percentile(ok_latencies, q)
        setattr(row, name, None if value is None else value / 1e6)
    return row


# What each DB needs beyond the shared spec to run at all: the Maelstrom DB runs
# raftnode's own core under the Maelstrom protocol (python -m raftnode --maelstrom).
DB_OPTIONS = {"maelstrom": {"bin": sys.executable, "bin_args": ["-m", "raftnode", "--maelstrom"]}}
NOT_A_DB = {"null"}  # answers everything instantly: nothing to compare


def run_one(db: str, fields: dict, store: Path) -> Row:
    try:
        spec = build_spec(
            {**fields, "db": db, "store": str(store), "db_options": DB_OPTIONS.get(db, {})},
            "bench",
        )
        validate_spec(spec, "bench")
    except HarnessError as exc:
        return Row(db, "skipped", note=str(exc))
    result = Runner(spec).run()
    verdict = {True: "valid", False: "invalid"}.get(result.valid, "unknown")
    if result.error:
        return Row(db, "crashed", note=result.error)
    return measure(result.run_dir, db, verdict)


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dbs", help="comma-separated DB names (default: every registered DB)")
    parser.add_argument("--cluster", choices=("local", "netns"), help="default: netns if possible")
    parser.add_argument("--workload", default="kv")
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=6)
    parser.add_argument("--rate", type=float, default=0, help="total ops/s, 0 = unthrottled")
    parser.add_argument("--time-limit", type=float, default=20.0)
    parser.add_argument("--nemesis", help="default: partition,kill (netns) / kill,pause (local)")
    parser.add_argument("--nemesis-interval", type=float, default=4.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--store", help="where the run dirs go (default: a temporary dir)")
    args = parser.parse_args()
    logging.getLogger("splitbrain").propagate = False  # the run dirs keep the logs
    cluster = args.cluster or default_cluster_kind()[0]
    nemesis = args.nemesis or ("partition,kill" if cluster == "netns" else "kill,pause")
    dbs = args.dbs.split(",") if args.dbs else [d for d in available_dbs() if d not in NOT_A_DB]
    fields = {
        "workload": args.workload, "nodes": args.nodes, "concurrency": args.concurrency,
        "rate": args.rate or None, "time_limit": args.time_limit, "nemesis": nemesis,
        "nemesis_interval": args.nemesis_interval, "seed": args.seed, "cluster": cluster,
        "recovery_s": 2,
    }  # fmt: skip
    store = Path(args.store) if args.store else Path(tempfile.mkdtemp(prefix="sb-dbcompare-"))
    print(
        f"{args.workload}, {args.nodes} nodes on {cluster}, {args.concurrency} clients, "
        f"rate {args.rate or 'unthrottled'}, {args.time_limit:g} s, nemesis {nemesis} every "
        f"~{args.nemesis_interval:g} s, seed {args.seed}; run dirs in {store}",
        flush=True,
    )
    rows = [run_one(db, fields, store) for db in dbs]
    print(
        f"\n{'db':<12}{'verdict':<10}{'ok/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'ok':>8}{'fail':>7}{'info':>6}"
    )
    for r in rows:
        print(
            f"{r.db:<12}{r.verdict:<10}{fmt(r.ok_per_s, '.0f'):>8}{fmt(r.p50_ms, '.2f'):>9}"
            f"{fmt(r.p99_ms, '.2f'):>9}{r.ok:>8}{r.fail:>7}{r.info:>6}"
            + (f"  {r.note}" if r.note else "")
        )


if __name__ == "__main__":
    main()
