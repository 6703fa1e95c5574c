"""How long each fault takes to apply (with its verification) and to heal.

Runs three stub nodes (tests/nemeses/stubnode.py: a tiny HTTP process, so the figures
are the nemesis' own cost, not a DB's start-up) on the `local` kind and, when root may
create namespaces, in a netns lab. Prints one line per fault: median and max seconds
for start and stop over ROUNDS rounds.

    python bench/bench_nemeses.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.hosts.local import LocalHost  # noqa: E402
from nemeses import make_fault  # noqa: E402
from nemeses.base import Claims  # noqa: E402
from tests.nemeses.fakedb import Cluster, Ctx, StubDB  # noqa: E402

NODES = ["n1", "n2", "n3"]
CASES: dict[str, list[tuple[str, dict]]] = {
    "local": [
        ("kill", {"target": "one"}),
        ("pause", {"target": "minority"}),
        ("clock", {"mode": "bump", "target": "all", "offset_ms": 2000}),
        ("disk", {"target": "one", "corrupt": "truncate"}),
        ("partition", {"topology": "leader"}),
    ],
    "netns": [
        ("partition", {"topology": "majorities-ring"}),
        ("packet", {"target": "one", "probability": 0.2}),
        ("kill", {"target": "one"}),
    ],
}


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench(kind: str, ctx: Ctx, rounds: int) -> None:
    claims = Claims()
    for name, value in CASES[kind]:
        fault = make_fault(name, random.Random(1), claims)
        fault.setup(ctx)
        starts, stops = [], []
        for _ in range(rounds):
            starts.append(timed(lambda f=fault, n=name, v=value: f.invoke(f"start-{n}", v, ctx)))
            stops.append(timed(lambda f=fault, n=name: f.invoke(f"stop-{n}", None, ctx)))
        fault.heal_all(ctx)
        print(
            f"{kind:6} {name:10} start median {statistics.median(starts):6.3f} s  max {max(starts):6.3f} s"
            f"   stop median {statistics.median(stops):6.3f} s  max {max(stops):6.3f} s"
        )


def run_local(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        hosts = {n: LocalHost(n) for n in NODES}
        db = StubDB(hosts, Path(tmp), faketime=True, leader="n1")
        try:
            for node in NODES:
                db.start(node)
            bench("local", Ctx(Cluster(hosts, "local"), db, list(NODES)), rounds)
        finally:
            db.teardown()


def run_netns(rounds: int) -> None:
    from harness.hosts import netns

    ok, why = netns.can_admin_network()
    if not ok:
        print(f"netns  skipped: {why}")
        return
    record = netns.create_lab(NODES)
    db = None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            hosts = netns.hosts_for(record)
            db = StubDB(hosts, Path(tmp), leader="n1")
            for node in NODES:
                db.start(node)
            bench("netns", Ctx(Cluster(hosts, "netns"), db, list(NODES)), rounds)
            db.teardown()
    finally:
        if db is not None:
            db.teardown()
        netns.destroy_lab(record.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    run_local(args.rounds)
    run_netns(args.rounds)


if __name__ == "__main__":
    main()
