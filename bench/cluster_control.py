"""Benchmark the cluster-control layer: what the runner and nemeses pay per action.

Prints, for each cluster kind available here: Host.run round trip, daemon start, and
signal latency; for netns the time to bring a 5-node lab up and down; and, when
raftnode runs, the time to start a 3-node cluster to a leader and the sequential
ops/s of one RaftnodeClient. Figures only — nothing is asserted.

    python bench/cluster_control.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.cluster import open_cluster  # noqa: E402
from harness.core.protocols import Host  # noqa: E402
from harness.hosts import netns  # noqa: E402


def timed(func: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        samples.append(time.perf_counter() - t0)
    return samples


def report(label: str, samples: list[float]) -> None:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
    print(
        f"  {label:<34} median {statistics.median(ms):8.2f} ms   p95 {p95:8.2f} ms   (n={len(ms)})"
    )


def bench_host(kind: str, host: Host, repeat: int, tmp: Path) -> None:
    print(f"{kind}:")
    report("run(['true'])", timed(lambda: host.run(["true"]), repeat))
    pids: list[int] = []

    def start() -> None:
        pids.append(
            host.start_daemon(
                ["sleep", "60"],
                log_path=str(tmp / f"{kind}.log"),
                pid_path=str(tmp / f"{kind}.pid"),
            )
        )

    report("start_daemon(sleep)", timed(start, max(3, repeat // 2)))
    stopped = iter(pids)
    report("signal(SIGSTOP)", timed(lambda: host.signal(next(stopped), signal.SIGSTOP), len(pids)))
    for pid in pids:
        host.signal(pid, signal.SIGKILL)


def bench_raftnode(kind: str, repeat_ops: int) -> None:
    try:
        from harness.dbs.raftnode import RaftnodeDB
    except ImportError as exc:
        print(f"raftnode on {kind}: skipped ({exc})")
        return
    cluster = open_cluster(kind, ["n1", "n2", "n3"])
    db = RaftnodeDB()
    try:
        db.setup(cluster.node_specs(), {})
        t0 = time.perf_counter()
        for node in cluster.nodes:
            db.start(node)
        started = time.perf_counter() - t0
        deadline = time.monotonic() + 30
        leader = None
        while leader is None and time.monotonic() < deadline:
            leader = next(
                (p.node for p in map(db.probe, cluster.nodes) if p.role == "leader"), None
            )
            time.sleep(0.02)
        to_leader = time.perf_counter() - t0
        print(
            f"raftnode on {kind}: 3 nodes started in {started * 1000:.0f} ms, leader after {to_leader * 1000:.0f} ms"
        )
        if leader is None:
            print("  no leader within 30 s; skipping client figures")
            return
        client = db.client(leader)
        t1 = time.perf_counter()
        results = [client.invoke("write", "k", i, 5.0).type for i in range(repeat_ops)]
        elapsed = time.perf_counter() - t1
        print(
            f"  one client, sequential writes: {repeat_ops / elapsed:8.0f} ops/s  ({results.count('ok')}/{repeat_ops} ok)"
        )
        client.close()
    except Exception as exc:  # noqa: BLE001 - a benchmark reports, it does not crash
        print(f"raftnode on {kind}: failed: {exc}")
    finally:
        db.teardown()
        cluster.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--ops", type=int, default=500)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sb-bench-"))
    with open_cluster("local", ["n1"]) as cluster:
        bench_host("local", cluster.hosts["n1"], args.repeat, tmp)
    ok, reason = netns.can_admin_network()
    if ok:
        ups, downs = [], []
        for _ in range(3):
            t0 = time.perf_counter()
            record = netns.create_lab([f"n{i}" for i in range(1, 6)])
            ups.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            netns.destroy_lab(record.name)
            downs.append(time.perf_counter() - t0)
        print("netns lab (5 nodes):")
        report("lab up", ups)
        report("lab down", downs)
        with open_cluster("netns", ["n1"]) as cluster:
            bench_host("netns", cluster.hosts["n1"], args.repeat, tmp)
        try:
            from harness.hosts.ssh import SshHost
            from harness.hosts.ssh_config import load_hosts_file
            from harness.sshd import ssh_lab

            with ssh_lab(["n1"], tmp / "ssh") as lab:
                host = SshHost(load_hosts_file(lab.hosts_file)[0])
                report_ssh = timed(host.connect, 1)
                print(f"ssh (sshd in a netns host): connect {report_ssh[0] * 1000:.1f} ms")
                bench_host("ssh", host, args.repeat, tmp / "ssh")
                host.close()
        except Exception as exc:  # noqa: BLE001
            print(f"ssh: skipped ({exc})")
    else:
        print(f"netns/ssh: skipped ({reason})")
    bench_raftnode("local", args.ops)
    if ok:
        bench_raftnode("netns", args.ops)


if __name__ == "__main__":
    main()
