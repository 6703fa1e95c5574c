"""Fail-stop on a full disk (issue 11, item 4): a node that cannot persist must exit non-zero
and release its ports, not linger half-alive holding the peer port and ignoring SIGTERM
(which made the next start fail with "address in use").

A real full disk: a 1 MiB tmpfs mounted for the test (root only; CI runs as root) and
unmounted by the fixture's finalizer after the nodes are stopped by pid."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from raftnode.testing import LoopbackCluster

pytestmark = [
    pytest.mark.process,
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("mount") is None,
        reason="needs root to mount a small tmpfs as a full disk (CI runs as root)",
    ),
]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "disk"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        if subprocess.run(["umount", str(mnt)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _fill(path: Path) -> Path:
    filler = path / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (1 << 16, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"x" * size)
    finally:
        os.close(fd)
    return filler


def _port_free(port: int) -> bool:
    """Whether a listener could bind `port` again, as a restarted node does (SO_REUSEADDR:
    connections of the dead process may linger in TIME_WAIT)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_restart_on_a_full_disk_exits_and_frees_its_ports(small_disk: Path) -> None:
    with LoopbackCluster(small_disk, n=3, election_ms=1000, heartbeat_ms=100) as c:
        leader = c.wait_leader(timeout=60)
        for i in range(10):
            assert c.kv_retry({"op": "write", "key": f"k{i}", "value": i}, prefer=leader)[0] == 200
        c.kill(leader)
        filler = _fill(small_disk)
        c.start(leader)  # restarts on a full disk: its first write fails
        proc = c.nodes[leader].proc
        assert proc is not None
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"fatal storage error but still running:\n{c.log_text(leader)[-1500:]}")
        log = c.log_text(leader)
        assert code != 0 and "fatal" in log and "No space left on device" in log
        node = c.nodes[leader]
        assert _port_free(node.peer_port) and _port_free(node.client_port)
        # room again: the same node starts on the same ports and rejoins
        filler.unlink()
        c.start(leader)
        c.wait_ready(leader, timeout=60)
        code, body = c.kv_retry({"op": "read", "key": "k9"}, prefer=leader)
        assert code == 200 and body["value"] == 9, body
