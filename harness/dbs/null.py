"""The null DB: an in-process, linearizable key-value store behind the DB/Client
protocols, with no processes or sockets.

Why: it lets the runner, the recorder and the checkers be exercised (and the harness's
own overhead be measured, bench/harness_overhead.py) without a cluster. Every op is
applied atomically under one lock, so its histories are always valid — unless a test
asks for trouble: ``info_rate``/``fail_rate`` make ops end info/fail at random (an info
op is applied or not at random too, as a real timeout would be), ``latency_s`` adds a
sleep, and ``stale_reads`` answers reads from an old snapshot (an invalid history).
"""

from __future__ import annotations

import copy
import random
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from harness.core.protocols import ClientResult, NodeSpec, Probe

# What `db_options` may set (docs/running.md, "The null DB").
OPTIONS = ("latency_s", "info_rate", "fail_rate", "stale_reads", "seed")


class NullStore:
    """The shared state: a dict of keys plus the lock that makes ops atomic."""

    def __init__(self) -> None:
        self.data: dict[Any, Any] = {}
        self.lock = threading.Lock()
        self.snapshot: dict[Any, Any] = {}
        self.applied = 0

    def apply(self, f: str, key: Any, value: Any) -> ClientResult:
        """Apply one op (caller holds the lock); mirrors raftnode's API (§2)."""
        data = self.data
        self.applied += 1
        if f == "read":
            return ClientResult("ok", copy.copy(data.get(key)))
        if f == "write":
            data[key] = value
            return ClientResult("ok", value)
        if f == "cas":
            old, new = value
            if key not in data:
                return ClientResult("fail", None, "not-found")
            if data[key] != old:
                return ClientResult("fail", None, "precondition-failed")
            data[key] = new
            return ClientResult("ok", value)
        if f == "append":
            data.setdefault(key, []).append(value)
            return ClientResult("ok", list(data[key]))
        if f == "incr":
            data[key] = data.get(key, 0) + value
            return ClientResult("ok", data[key])
        if f == "delete":
            if key not in data:
                return ClientResult("fail", None, "not-found")
            del data[key]
            return ClientResult("ok", None)
        if f == "transfer":
            source, target, amount = value["from"], value["to"], value["amount"]
            if data.get(source, 0) < amount:
                return ClientResult("fail", None, "precondition-failed")
            data[source] = data.get(source, 0) - amount
            data[target] = data.get(target, 0) + amount
            return ClientResult("ok", value)
        return ClientResult("fail", None, "bad-request")


class NullClient:
    """A client of the null DB bound to one (notional) node."""

    def __init__(self, db: NullDB, node: str):
        self.db = db
        self.node = node
        self.rng = random.Random(f"{db.seed}:{node}:{id(self)}")

    def open(self) -> None:
        pass

    def invoke(self, f: str, key: Any, value: Any, timeout: float) -> ClientResult:
        db = self.db
        if db.latency_s:
            time.sleep(db.latency_s)
        if not db.is_running(self.node) or self.node in db.paused:
            if f == "read":
                return ClientResult("fail", None, "unavailable")
            return ClientResult("info", None, "timeout")
        roll = self.rng.random() if (db.info_rate or db.fail_rate) else 1.0
        if roll < db.fail_rate:
            return ClientResult("fail", None, "unavailable")
        store = db.store
        with store.lock:
            if roll < db.fail_rate + db.info_rate:
                if self.rng.random() < 0.5:
                    store.apply(f, key, value)
                return ClientResult("info", None, "timeout")
            if db.stale_reads and f == "read" and self.node != "n1":
                return ClientResult("ok", copy.copy(store.snapshot.get(key)))
            result = store.apply(f, key, value)
            if db.stale_reads and store.applied % 50 == 0:
                store.snapshot = copy.deepcopy(store.data)
            return result

    def close(self) -> None:
        pass


class NullDB:
    """An in-process DB: node names are labels; kill/pause just mark a node down."""

    name = "null"
    hostless = True  # harness.core.protocols.Hostless: no cluster, no hosts

    def __init__(
        self,
        *,
        latency_s: float = 0.0,
        info_rate: float = 0.0,
        fail_rate: float = 0.0,
        stale_reads: bool = False,
        seed: int = 0,
    ) -> None:
        self.latency_s = latency_s
        self.info_rate = info_rate
        self.fail_rate = fail_rate
        self.stale_reads = stale_reads
        self.seed = seed
        self.store = NullStore()
        self.nodes: list[str] = []
        self.running: set[str] = set()
        self.paused: set[str] = set()

    def setup(self, nodes: Sequence[NodeSpec] | Sequence[str], options: Mapping[str, Any]) -> None:
        """The runner passes node names (the DB is Hostless) and the spec's options: the
        test's ``seed`` and the ``db_options`` above, which override the constructor's
        values (other keys, such as ``bugs``, are not the null DB's and are ignored)."""
        self.nodes = [n if isinstance(n, str) else n.name for n in nodes]
        for key in OPTIONS:
            if options.get(key) is not None:
                setattr(self, key, options[key])

    def start(self, node: str) -> None:
        self.running.add(node)
        self.paused.discard(node)

    def kill(self, node: str) -> None:
        self.running.discard(node)

    def pause(self, node: str) -> None:
        self.paused.add(node)

    def resume(self, node: str) -> None:
        self.paused.discard(node)

    def is_running(self, node: str) -> bool:
        return node in self.running

    def probe(self, node: str, timeout: float = 1.0) -> Probe:
        if node not in self.running or node in self.paused:
            return Probe(node, reachable=False)
        leader = self.nodes[0] if self.nodes else node
        return Probe(
            node,
            reachable=True,
            role="leader" if node == leader else "follower",
            term=1,
            leader=leader,
            commit_index=self.store.applied,
            applied_index=self.store.applied,
            clock_ns=time.time_ns(),
        )

    def teardown(self) -> None:
        self.running.clear()
        self.paused.clear()

    def log_files(self, node: str) -> dict[str, str]:
        return {}

    def client(self, node: str) -> NullClient:
        return NullClient(self, node)
