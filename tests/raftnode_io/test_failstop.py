"""Fail-stop on a full disk (issue 11, item 4): a node that cannot persist must exit non-zero
and release its ports, not linger half-alive holding the peer port and ignoring SIGTERM
(which made the next start fail with "address in use").

A real full disk: a 1 MiB tmpfs mounted on the restarted node's data dir (root only; CI runs as root) and
unmounted by the fixture's finalizer after the nodes are stopped by pid."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
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
def mounts() -> Iterator[list[Path]]:
    """Tiny tmpfs mounts the test makes (appended to the list), unmounted at the end."""
    mounted: list[Path] = []
    yield mounted
    for mnt in mounted:
        if subprocess.run(["umount", str(mnt)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _move_onto_tiny_disk(data: Path, scratch: Path, mounts: list[Path]) -> None:
    """Put `data` (a stopped node's data dir) on its own 1 MiB tmpfs, contents kept."""
    shutil.copytree(data, scratch)
    shutil.rmtree(data)
    data.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(data)], check=True)
    mounts.append(data)
    shutil.copytree(scratch, data, dirs_exist_ok=True)


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


def test_restart_on_a_full_disk_exits_and_frees_its_ports(
    tmp_path: Path, mounts: list[Path]
) -> None:
    # Only the restarted node is on the full disk: the other two keep a quorum on a roomy
    # one, so the test's writes keep replicating to it until one of its appends cannot
    # be persisted. (A full disk shared by all three made the outcome depend on which
    # small write happened to fit in a file's last page.)
    with LoopbackCluster(tmp_path / "cluster", n=3, election_ms=1000, heartbeat_ms=100) as c:
        leader = c.wait_leader(timeout=60)
        for i in range(10):
            assert c.kv_retry({"op": "write", "key": f"k{i}", "value": i}, prefer=leader)[0] == 200
        c.kill(leader)
        data = c.nodes[leader].data_dir
        _move_onto_tiny_disk(data, tmp_path / "saved", mounts)
        filler = _fill(data)
        c.start(leader)  # restarts on a full disk: the first append it must persist fails
        proc = c.nodes[leader].proc
        assert proc is not None
        others = [n for n in c.nodes if n != leader]
        deadline = time.monotonic() + 30
        i = 0
        while proc.poll() is None and time.monotonic() < deadline:
            c.kv_retry(
                {"op": "write", "key": f"more{i}", "value": "x" * 200}, timeout=2, prefer=others[0]
            )
            i += 1
        try:
            code = proc.wait(timeout=5)
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
