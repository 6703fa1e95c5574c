"""Cutting and checking links between node hosts: blackhole routes, iptables, probes.

Everything goes through `Host.run`, so the same code drives a namespace (`ip netns
exec` prefix) and an SSH host. Rules live in chains and route types we can list, so a
heal removes whatever is there — also what a crashed earlier run left behind — which
makes healing idempotent without trusting in-memory state.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from harness.core.protocols import Host, HostError
from nemeses.base import NemesisError

PARTITION_CHAIN = "SBPARTITION"
LOSS_CHAIN = "SBLOSS"

# A TCP connect that is refused (RST) or accepted proves the path works both ways; a
# timeout, "network unreachable" or "invalid argument" (blackhole route) means blocked.
_PROBE = r"""
import json, socket, sys, errno
from concurrent.futures import ThreadPoolExecutor
port, timeout = int(sys.argv[1]), float(sys.argv[2])
def probe(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((addr, port))
        return "reachable"
    except ConnectionRefusedError:
        return "reachable"
    except socket.timeout:
        return "blocked: timeout"
    except OSError as e:
        return "blocked: " + (errno.errorcode.get(e.errno, str(e.errno)))
    finally:
        s.close()
addrs = sys.argv[3:]
with ThreadPoolExecutor(max(1, len(addrs))) as pool:
    print(json.dumps(dict(zip(addrs, pool.map(probe, addrs)))))
"""

PROBE_PORT = 9  # discard: normally closed, so a working path answers with RST at once


@dataclass
class ProbeResult:
    src: str
    results: dict[str, str]  # destination node -> "reachable" | "blocked: ..."

    def blocked(self) -> set[str]:
        return {n for n, r in self.results.items() if r != "reachable"}


def probe_from(host: Host, targets: Mapping[str, str], *, timeout: float = 1.5) -> ProbeResult:
    """From `host`, try a TCP connect to every {node: address} in `targets` at once."""
    if not targets:
        return ProbeResult(host.name, {})
    argv = ["python3", "-c", _PROBE, str(PROBE_PORT), str(timeout), *targets.values()]
    out = host.run(argv, timeout=timeout + 30).stdout
    try:
        by_addr = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError) as exc:
        raise NemesisError(f"reachability probe on {host.name} printed {out!r}") from exc
    return ProbeResult(host.name, {node: by_addr[addr] for node, addr in targets.items()})


def probe_all(hosts: Mapping[str, Host], *, timeout: float = 1.5) -> dict[str, set[str]]:
    """For every node, the set of other nodes it cannot reach (probed in parallel)."""
    addresses = {n: h.address for n, h in hosts.items()}

    def one(node: str) -> tuple[str, set[str]]:
        others = {m: a for m, a in addresses.items() if m != node}
        return node, probe_from(hosts[node], others, timeout=timeout).blocked()

    with ThreadPoolExecutor(max(1, len(hosts))) as pool:
        return dict(pool.map(one, sorted(hosts)))


# -- blackhole routes -------------------------------------------------------------------
def add_blackholes(host: Host, addresses: Iterable[str]) -> None:
    for addr in addresses:
        host.run(["ip", "route", "replace", "blackhole", f"{addr}/32"])


def list_blackholes(host: Host) -> set[str]:
    out = host.run(["ip", "route", "show", "type", "blackhole"], check=False).stdout
    found = set()
    for line in out.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "blackhole":
            found.add(words[1].removesuffix("/32"))
    return found


def remove_blackholes(host: Host, addresses: Iterable[str]) -> list[str]:
    """Delete blackhole routes to any of `addresses` present on `host`; returns those."""
    present = list_blackholes(host) & set(addresses)
    for addr in sorted(present):
        host.run(["ip", "route", "del", "blackhole", f"{addr}/32"], check=False)
    return sorted(present)


# -- iptables ---------------------------------------------------------------------------
def has_iptables(host: Host) -> bool:
    try:
        return host.run(["iptables", "-V"], check=False, timeout=15).exit_code == 0
    except HostError:
        return False


def ensure_chain(host: Host, chain: str) -> None:
    """Create `chain` and jump to it from INPUT, once."""
    host.run(["iptables", "-w", "-N", chain], check=False)
    if host.run(["iptables", "-w", "-C", "INPUT", "-j", chain], check=False).exit_code != 0:
        host.run(["iptables", "-w", "-I", "INPUT", "1", "-j", chain])


def drop_from(host: Host, chain: str, addresses: Iterable[str], probability: float = 1.0) -> None:
    """Drop incoming packets from `addresses` (each with `probability` if below 1)."""
    ensure_chain(host, chain)
    for addr in addresses:
        argv = ["iptables", "-w", "-A", chain, "-s", f"{addr}/32"]
        if probability < 1.0:
            argv += ["-m", "statistic", "--mode", "random", "--probability", f"{probability:.4f}"]
        host.run([*argv, "-j", "DROP"])


def chain_rules(host: Host, chain: str) -> list[str]:
    """The `-A chain ...` rule lines of `chain` ([] when the chain does not exist)."""
    res = host.run(["iptables", "-w", "-S", chain], check=False)
    if res.exit_code != 0:
        return []
    return [line for line in res.stdout.splitlines() if line.startswith(f"-A {chain} ")]


def remove_chain(host: Host, chain: str) -> int:
    """Flush and delete `chain` and its INPUT jump; returns how many rules it held.
    No chain (or no iptables at all) means nothing to remove."""
    try:
        listing = host.run(["iptables", "-w", "-S", chain], check=False)
    except HostError:
        return 0
    if listing.exit_code != 0:
        return 0
    rules = sum(1 for line in listing.stdout.splitlines() if line.startswith(f"-A {chain} "))
    host.run(["iptables", "-w", "-F", chain], check=False)
    for _ in range(10):
        if host.run(["iptables", "-w", "-D", "INPUT", "-j", chain], check=False).exit_code != 0:
            break
    host.run(["iptables", "-w", "-X", chain], check=False)
    return rules
