"""A loopback raftnode cluster for tests and benchmarks: real processes, real sockets.

    with LoopbackCluster(tmp_path, n=3) as c:
        leader = c.wait_leader()
        c.kv("n1", {"op": "write", "key": "a", "value": 1})

Ports are found by binding port 0 (other test runs share the machine); every process is
started by this object and stopped by pid (SIGTERM, then SIGKILL), also when a test fails.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent


def free_ports(count: int) -> list[int]:
    """`count` distinct ports that were free a moment ago (bind to 0, read, release)."""
    socks, ports = [], []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def http_json(
    port: int, method: str, path: str, body: Any = None, *, timeout: float = 10.0
) -> tuple[int, Any]:
    """One HTTP request to 127.0.0.1:port; (status, decoded JSON body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        conn.request(method, path, body=payload, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, json.loads(data) if data else None
    finally:
        conn.close()


@dataclass
class NodeProc:
    name: str
    peer_port: int
    client_port: int
    data_dir: Path
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    starts: int = 0

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class LoopbackCluster:
    """`n` raftnode processes on 127.0.0.1 with their data dirs under `root`."""

    root: Path
    n: int = 3
    bugs: list[str] = field(default_factory=list)
    tick_ms: int = 10
    election_ms: int = 300
    heartbeat_ms: int = 50
    extra_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)  # added to every node's environment
    # The peer handshake's shared secret, passed in a 0600 file; None: unauthenticated peers.
    cluster_token: str | None = field(default_factory=lambda: secrets.token_hex(16), repr=False)
    nodes: dict[str, NodeProc] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._assign_ports()

    @property
    def token_file(self) -> Path:
        return Path(self.root) / "cluster.token"

    def _write_token(self) -> None:
        """(Re)write the token file, created 0600 (never readable by others, even briefly)."""
        if self.cluster_token is None:
            return
        with contextlib.suppress(OSError):
            if self.token_file.read_text() == self.cluster_token + "\n":
                return  # already there (and a restart must not need disk space)
        self.token_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.token_file.with_name(self.token_file.name + ".tmp")
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.cluster_token + "\n")
        os.replace(tmp, self.token_file)

    def _assign_ports(self) -> None:
        ports = free_ports(2 * self.n)
        for i in range(self.n):
            name = f"n{i + 1}"
            old = self.nodes.get(name)
            node = NodeProc(name, ports[2 * i], ports[2 * i + 1], Path(self.root) / name)
            if old is not None:
                node.starts, node.log_path = old.starts, old.log_path
            self.nodes[name] = node

    # -- processes -------------------------------------------------------------------------

    def peers_flag(self) -> str:
        return ",".join(f"{n.name}=127.0.0.1:{n.peer_port}" for n in self.nodes.values())

    def command(self, name: str) -> list[str]:
        node = self.nodes[name]
        cmd = [
            sys.executable, "-m", "raftnode",
            "--id", name,
            "--peers", self.peers_flag(),
            "--client", f"127.0.0.1:{node.client_port}",
            "--data-dir", str(node.data_dir),
            "--tick-ms", str(self.tick_ms),
            "--election-ms", str(self.election_ms),
            "--heartbeat-ms", str(self.heartbeat_ms),
        ]  # fmt: skip
        for bug in self.bugs:
            cmd += ["--bug", bug]
        if self.cluster_token is not None:
            cmd += ["--cluster-token-file", str(self.token_file)]
        return cmd + list(self.extra_args)

    def start(self, name: str | None = None) -> None:
        """Start one node (or all that are not running)."""
        for node in [self.nodes[name]] if name else self.nodes.values():
            if node.alive:
                continue
            self._write_token()
            node.data_dir.mkdir(parents=True, exist_ok=True)
            node.starts += 1
            node.log_path = node.data_dir.parent / f"{node.name}.stderr.log"
            with open(node.log_path, "ab") as log:
                node.proc = subprocess.Popen(
                    self.command(node.name),
                    stdout=log,
                    stderr=log,
                    stdin=subprocess.DEVNULL,
                    cwd=REPO_ROOT,
                    env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **self.env},
                )

    def kill(self, name: str, sig: int = signal.SIGKILL) -> int | None:
        """Signal one node by pid and reap it; returns its exit code."""
        node = self.nodes[name]
        if node.proc is None:
            return None
        if node.proc.poll() is None:
            node.proc.send_signal(sig)
        try:
            return node.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            node.proc.kill()
            return node.proc.wait(timeout=15)

    def stop(self, name: str) -> int | None:
        return self.kill(name, signal.SIGTERM)

    def close(self) -> None:
        for name in self.nodes:
            with contextlib.suppress(Exception):
                self.stop(name)

    def __enter__(self) -> LoopbackCluster:
        """Start every node and wait until each answers /status. A port found free can be
        taken by someone else before the node binds it (the machine is shared): then the
        whole cluster is restarted on fresh ports, a few times at most."""
        for attempt in range(4):
            self.start()
            try:
                for name in self.nodes:
                    self.wait_ready(name, timeout=60)
                return self
            except RuntimeError as exc:
                self.close()
                if "Address already in use" not in str(exc) or attempt == 3:
                    raise
                self._assign_ports()
            except BaseException:
                self.close()
                raise
        raise AssertionError("unreachable")

    def __exit__(self, *exc: object) -> None:
        self.close()

    def log_text(self, name: str) -> str:
        path = self.nodes[name].log_path
        return path.read_text(errors="replace") if path and path.exists() else ""

    # -- client side -------------------------------------------------------------------------

    def kv(self, name: str, body: dict[str, Any], *, timeout: float = 10.0) -> tuple[int, Any]:
        return http_json(self.nodes[name].client_port, "POST", "/kv", body, timeout=timeout)

    def status(self, name: str, *, timeout: float = 5.0) -> dict[str, Any] | None:
        try:
            code, body = http_json(self.nodes[name].client_port, "GET", "/status", timeout=timeout)
        except (OSError, ValueError, http.client.HTTPException):
            return None
        return body if code == 200 else None

    def wait_ready(self, name: str, timeout: float = 30.0) -> dict[str, Any]:
        """Wait until a node answers /status."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            node = self.nodes[name]
            if node.proc is not None and node.proc.poll() is not None:
                raise RuntimeError(
                    f"{name} exited {node.proc.returncode}:\n{self.log_text(name)[-2000:]}"
                )
            st = self.status(name)
            if st is not None:
                return st
            time.sleep(0.05)
        raise TimeoutError(f"{name} did not answer /status within {timeout}s")

    def wait_leader(
        self, timeout: float = 30.0, *, among: list[str] | None = None, not_: str | None = None
    ) -> str:
        """Wait until the running nodes agree on one leader (that is itself a leader)."""
        names = among or [n for n, node in self.nodes.items() if node.alive]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sts = {n: self.status(n) for n in names}
            leaders = {n for n, s in sts.items() if s and s.get("role") == "leader"}
            for lead in leaders:
                if lead == not_:
                    continue
                term = sts[lead]["term"]  # type: ignore[index]
                agree = sum(
                    1
                    for s in sts.values()
                    if s and s.get("leader") == lead and s.get("term") == term
                )
                if agree > len(self.nodes) // 2 or agree == len(names):
                    return lead
            time.sleep(0.05)
        raise TimeoutError(f"no leader among {names} within {timeout}s")

    def kv_retry(
        self, body: dict[str, Any], *, timeout: float = 30.0, prefer: str | None = None
    ) -> tuple[int, Any]:
        """Send to live nodes until one gives a definite answer (not 503/504/421/conn error)."""
        deadline = time.monotonic() + timeout
        order = [prefer] if prefer else []
        order += [n for n in self.nodes if n != prefer]
        last: tuple[int, Any] = (0, None)
        while time.monotonic() < deadline:
            for name in order:
                if not self.nodes[name].alive:
                    continue
                try:
                    code, resp = self.kv(name, body, timeout=5.0)
                except (OSError, http.client.HTTPException):
                    continue
                last = (code, resp)
                if code not in (421, 503, 504):
                    return code, resp
            time.sleep(0.1)
        return last
