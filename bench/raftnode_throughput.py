"""Throughput and latency of acknowledged durable writes on loopback: raftnode vs etcd 3.4.

    python bench/raftnode_throughput.py [--seconds 5] [--nodes 3,5] [--concurrency 1,16,64]

For each cluster size a fresh raftnode cluster is started (real processes, fsync on); for each
concurrency C, C asyncio workers each hold one keep-alive HTTP connection to the leader and send
`write` requests back to back for --seconds. A write counts when the node answered 200 (it is
then committed on a majority and fsynced). When /usr/bin/etcd exists the same load runs against
a 3-node etcd through its v3 HTTP/JSON gateway (/v3/kv/put, base64), and the ratio is printed.
Prints a table; never asserts anything (speed is measured here, not in tests).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from raftnode.testing import LoopbackCluster, free_ports  # noqa: E402

ETCD = "/usr/bin/etcd"


@dataclass
class Result:
    system: str
    nodes: int
    concurrency: int
    ok: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    server_cpu_s: float = float("nan")  # CPU seconds used by all server processes

    @property
    def cpu_ms_per_1k(self) -> float:
        """Server CPU per 1000 acknowledged writes: comparable even on a busy machine."""
        return self.server_cpu_s * 1e6 / self.ok if self.ok else float("nan")

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        lat = sorted(self.latencies_ms)
        return lat[min(len(lat) - 1, int(q * len(lat)))]


async def _http_post(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, body: bytes
) -> tuple[int, bytes]:
    writer.write(
        b"POST %s HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (path.encode(), len(body), body)
    )
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return status, await reader.readexactly(length)


def _raftnode_body(worker: int, i: int) -> bytes:
    return json.dumps({"op": "write", "key": f"k{worker}", "value": i}).encode()


def _etcd_body(worker: int, i: int) -> bytes:
    key = base64.b64encode(f"k{worker}".encode()).decode()
    val = base64.b64encode(str(i).encode()).decode()
    return json.dumps({"key": key, "value": val}).encode()


async def run_load(
    port: int, path: str, make_body, concurrency: int, seconds: float
) -> tuple[int, int, list[float]]:
    """C workers, one keep-alive connection each, for `seconds`; (ok, errors, latencies)."""
    ok = errors = 0
    lat: list[float] = []
    stop_at = time.monotonic() + seconds

    async def worker(w: int) -> None:
        nonlocal ok, errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = 0
        try:
            while time.monotonic() < stop_at:
                i += 1
                t0 = time.perf_counter()
                try:
                    status, _ = await asyncio.wait_for(
                        _http_post(reader, writer, path, make_body(w, i)), 10
                    )
                except (OSError, asyncio.IncompleteReadError, TimeoutError):
                    errors += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    continue
                if status == 200:
                    ok += 1
                    lat.append((time.perf_counter() - t0) * 1000)
                else:
                    errors += 1
        finally:
            writer.close()

    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return ok, errors, lat


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of processes so far (from /proc; nan where unavailable)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def measure(
    system: str,
    nodes: int,
    port: int,
    path: str,
    make_body,
    conc: int,
    secs: float,
    pids: list[int],
) -> Result:
    asyncio.run(run_load(port, path, make_body, conc, min(1.0, secs / 4)))  # warm-up
    cpu0, t0 = cpu_seconds(pids), time.monotonic()
    ok, errors, lat = asyncio.run(run_load(port, path, make_body, conc, secs))
    wall, cpu = time.monotonic() - t0, cpu_seconds(pids) - cpu0
    return Result(system, nodes, conc, ok, errors, wall, lat, cpu)


def bench_raftnode(nodes: int, concurrency: list[int], secs: float) -> list[Result]:
    results = []
    with (
        tempfile.TemporaryDirectory(prefix="sb-bench-") as tmp,
        LoopbackCluster(Path(tmp), n=nodes) as c,
    ):
        leader = c.wait_leader(timeout=60)
        port = c.nodes[leader].client_port
        for conc in concurrency:
            pids = [n.proc.pid for n in c.nodes.values() if n.proc is not None]
            results.append(
                measure("raftnode", nodes, port, "/kv", _raftnode_body, conc, secs, pids)
            )
            print(_row(results[-1]), flush=True)
    return results


class EtcdCluster:
    """Three etcd members on loopback in a temp dir; stopped by pid."""

    def __init__(self, root: Path, n: int = 3) -> None:
        ports = free_ports(2 * n)
        tag = f"sb{os.getpid()}"
        self.members = [(f"e{i + 1}", ports[2 * i], ports[2 * i + 1]) for i in range(n)]
        cluster = ",".join(f"{m}=http://127.0.0.1:{pp}" for m, pp, _ in self.members)
        self.procs: list[subprocess.Popen[bytes]] = []
        for name, peer, client in self.members:
            cmd = [
                ETCD, "--name", name, "--data-dir", str(root / name),
                "--listen-peer-urls", f"http://127.0.0.1:{peer}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                "--listen-client-urls", f"http://127.0.0.1:{client}",
                "--advertise-client-urls", f"http://127.0.0.1:{client}",
                "--initial-cluster", cluster, "--initial-cluster-state", "new",
                "--initial-cluster-token", tag, "--log-level", "error",
            ]  # fmt: skip
            log = open(root / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
            self.procs.append(subprocess.Popen(cmd, stdout=log, stderr=log))

    def leader_port(self, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for _, _, client in self.members:
                try:
                    req = urllib.request.Request(
                        f"http://127.0.0.1:{client}/v3/maintenance/status",
                        data=b"{}",
                        method="POST",
                    )
                    st = json.loads(urllib.request.urlopen(req, timeout=2).read())
                except OSError:
                    continue
                if st.get("leader") and st["leader"] == st.get("header", {}).get("member_id"):
                    return client
            time.sleep(0.2)
        raise TimeoutError("etcd elected no leader")

    def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)


def bench_etcd(concurrency: list[int], secs: float) -> list[Result]:
    results = []
    with tempfile.TemporaryDirectory(prefix="sb-bench-etcd-") as tmp:
        cluster = EtcdCluster(Path(tmp))
        try:
            port = cluster.leader_port()
            for conc in concurrency:
                pids = [p.pid for p in cluster.procs]
                results.append(measure("etcd", 3, port, "/v3/kv/put", _etcd_body, conc, secs, pids))
                print(_row(results[-1]), flush=True)
        finally:
            cluster.close()
    return results


HEADER = (
    f"{'system':<9} {'nodes':>5} {'conc':>5} {'writes/s':>10} {'p50 ms':>8} {'p99 ms':>8} "
    f"{'errors':>7} {'cpu ms/1k':>10}"
)


def _row(r: Result) -> str:
    return (
        f"{r.system:<9} {r.nodes:>5} {r.concurrency:>5} {r.rate:>10.0f} "
        f"{r.pct(0.5):>8.2f} {r.pct(0.99):>8.2f} {r.errors:>7} {r.cpu_ms_per_1k:>10.0f}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0, help="measured seconds per row")
    ap.add_argument("--nodes", default="3,5", help="raftnode cluster sizes (default 3,5)")
    ap.add_argument("--concurrency", default="1,16,64", help="client concurrencies")
    ap.add_argument("--no-etcd", action="store_true", help="skip etcd even if installed")
    args = ap.parse_args()
    try:
        sizes = [int(x) for x in args.nodes.split(",")]
        concs = [int(x) for x in args.concurrency.split(",")]
    except ValueError:
        ap.error("--nodes and --concurrency take comma-separated integers")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"loopback, fsync on, {args.seconds:g}s per row, {os.cpu_count()} CPUs, "
        f"load average {load:.1f} at start (a shared machine makes writes/s noisy; "
        "cpu ms/1k = server CPU per 1000 writes, all nodes together)"
    )
    print(HEADER, flush=True)
    ours: list[Result] = []
    for n in sizes:
        ours += bench_raftnode(n, concs, args.seconds)
    theirs: list[Result] = []
    if not args.no_etcd and os.path.exists(ETCD) and shutil.which(ETCD):
        theirs = bench_etcd(concs, args.seconds)
    elif not args.no_etcd:
        print(f"({ETCD} not installed: no etcd comparison)")
    if theirs:
        print("\nraftnode (3 nodes) / etcd (3 nodes), writes/s:")
        for r in theirs:
            mine = next((o for o in ours if o.nodes == 3 and o.concurrency == r.concurrency), None)
            if mine and r.rate:
                print(
                    f"  concurrency {r.concurrency:>3}: {mine.rate / r.rate:.2f}x writes/s, "
                    f"{mine.cpu_ms_per_1k / r.cpu_ms_per_1k:.2f}x CPU per write"
                )
    med = [r for r in ours if r.nodes == 3 and r.concurrency == 64]
    if med:
        print(
            f"\ntarget >= 2000 writes/s at 3 nodes, concurrency 64: {med[0].rate:.0f} writes/s "
            f"(p50 {statistics.median(med[0].latencies_ms) if med[0].latencies_ms else float('nan'):.1f} ms)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
