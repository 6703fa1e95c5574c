"""A small DB (harness.core.protocols.DB) around stubnode.py, and a context for nemesis tests.

It lets the nemesis tests observe real effects — real processes killed, stopped,
clock-shifted, WALs cut — without depending on raftnode, on any Host (local or netns).
"""

from __future__ import annotations

import json
import logging
import random
import signal
import socket
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core.faketime import faketime_env
from harness.core.protocols import HostError, Probe

STUB = str(Path(__file__).with_name("stubnode.py"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StubDB:
    name = "stub"

    def __init__(
        self,
        hosts: dict[str, Any],
        workdir: Path,
        *,
        faketime: bool = False,
        leader: str | None = None,
    ) -> None:
        self.hosts = hosts
        self.workdir = workdir
        self.faketime = faketime
        self.leader = leader
        self.ports = {n: free_port() for n in hosts}
        self.pids: dict[str, int | None] = {n: None for n in hosts}
        for node in hosts:
            (workdir / node / "data").mkdir(parents=True, exist_ok=True)
            if faketime:
                (workdir / node / "faketime.rc").write_text("+0\n")

    # -- the DB protocol ------------------------------------------------------------
    def start(self, node: str) -> None:
        if self.is_running(node):
            return
        env = {"PYTHONUNBUFFERED": "1"}
        if self.faketime:
            env.update(faketime_env(self.clock_file(node) or ""))
        host = self.hosts[node]
        argv = [
            sys.executable,
            STUB,
            node,
            str(self.ports[node]),
            self.data_dir(node),
            host.address,
        ]
        if node == self.leader:
            argv.append("leader")
        pid = host.start_daemon(
            argv,
            log_path=str(self.workdir / node / "node.log"),
            pid_path=str(self.workdir / node / "pid"),
            env=env,
        )
        self.pids[node] = pid
        deadline = time.monotonic() + 30
        while not self.probe(node).reachable:
            if not host.is_alive(pid):
                self.pids[node] = None
                raise HostError(node, "stubnode", "exited during start")
            if time.monotonic() > deadline:
                raise HostError(node, "stubnode", "did not answer")
            time.sleep(0.05)

    def kill(self, node: str) -> None:
        pid = self.pids[node]
        if pid is None:
            return
        host = self.hosts[node]
        host.signal(pid, signal.SIGKILL)
        deadline = time.monotonic() + 15
        while host.is_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.pids[node] = None

    def pause(self, node: str) -> None:
        if self.pids[node]:
            self.hosts[node].signal(self.pids[node], signal.SIGSTOP)

    def resume(self, node: str) -> None:
        if self.pids[node]:
            self.hosts[node].signal(self.pids[node], signal.SIGCONT)

    def is_running(self, node: str) -> bool:
        pid = self.pids[node]
        return pid is not None and self.hosts[node].is_alive(pid)

    def pid(self, node: str) -> int | None:
        return self.pids[node]

    def _get(self, node: str, path: str, timeout: float, body: Any = None) -> Any:
        url = f"http://{self.hosts[node].address}:{self.ports[node]}{path}"
        data = None if body is None else json.dumps(body).encode()
        with urllib.request.urlopen(
            urllib.request.Request(url, data=data), timeout=timeout
        ) as resp:
            return json.loads(resp.read())

    def probe(self, node: str, timeout: float = 1.0) -> Probe:
        try:
            raw = self._get(node, "/status", timeout)
        except OSError:
            return Probe(node=node, reachable=False)
        return Probe(
            node=node,
            reachable=True,
            role=raw["role"],
            leader=raw["leader"],
            clock_ns=raw["wall_clock_ns"],
            raw=raw,
        )

    def teardown(self) -> None:
        for node in self.hosts:
            self.resume(node)
            self.kill(node)

    def data_dir(self, node: str) -> str:
        return str(self.workdir / node / "data")

    # -- optional hooks -------------------------------------------------------------
    def wal_path(self, node: str) -> str:
        return str(Path(self.data_dir(node)) / "wal.log")

    def clock_file(self, node: str) -> str | None:
        return str(self.workdir / node / "faketime.rc") if self.faketime else None

    def block_peers(self, node: str, peers: list[str]) -> None:
        self._get(node, "/admin/partition", 5.0, {"drop": list(peers)})

    def blocked_peers(self, node: str) -> list[str]:
        return self._get(node, "/admin/partition", 5.0)["drop"]


@dataclass
class Cluster:
    hosts: dict[str, Any]
    kind: str


@dataclass
class Ctx:
    """A harness.core.protocols.RunContext without the runner."""

    cluster: Cluster | None
    db: Any
    nodes: list[str]
    rng: random.Random = field(default_factory=lambda: random.Random(1))
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("splitbrain.test"))

    def leader(self) -> str | None:
        for node in self.nodes:
            probe = self.db.probe(node)
            if probe.reachable and probe.role == "leader":
                return node
        return None
