"""Issue 11 item 8: an "SSH host" that is not an SSH server gives one clear line.

paramiko's transport thread used to print a 20-line traceback ("Exception (client):
Error reading SSH protocol banner") on the terminal before our own error. Its log now
goes to the controller log; the user sees only the HostError line.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import paramiko
import pytest

from harness.core.protocols import HostError
from harness.hosts.ssh import SshHost
from harness.hosts.ssh_config import SshHostConfig


@contextmanager
def fake_server(reply: bytes | None, *, close: bool) -> Iterator[int]:
    """A loopback TCP server: sends `reply` (None: nothing) to each client, then closes
    the connection or keeps it open in silence. Yields its port."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    stop = threading.Event()
    clients: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if reply is not None:
                conn.sendall(reply)
            if close:
                conn.close()
            else:
                clients.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        server.close()
        for conn in clients:
            conn.close()


def _config(tmp_path: Path, port: int) -> SshHostConfig:
    key = tmp_path / "key"
    paramiko.RSAKey.generate(1024).write_private_key_file(str(key))
    return SshHostConfig(
        name="n1",
        address="127.0.0.1",
        port=port,
        key_file=str(key),
        known_hosts=str(tmp_path / "known_hosts"),
        accept_new_host_keys=True,
        connect_timeout=1.0,
    )


def _wait_for_paramiko_threads() -> None:
    """paramiko logs from its own thread, possibly after connect() gave up: let it end."""
    deadline = time.monotonic() + 10
    while any(isinstance(t, paramiko.Transport) for t in threading.enumerate()):
        if time.monotonic() > deadline:
            return
        time.sleep(0.05)


@pytest.mark.parametrize(
    "reply, close",
    [
        (b"HTTP/1.1 400 Bad Request\r\n\r\n", True),  # garbage banner, then a reset
        (b"220 smtp.example ESMTP\r\n", False),  # garbage banner, then silence
        (None, False),  # silent: accepts and never speaks
    ],
    ids=["garbage-then-close", "garbage-then-silence", "silent"],
)
def test_non_ssh_server_is_one_line_and_no_traceback(tmp_path, capfd, caplog, reply, close):
    caplog.set_level(logging.DEBUG)
    with fake_server(reply, close=close) as port:
        with pytest.raises(HostError) as info:
            SshHost(_config(tmp_path, port))
        _wait_for_paramiko_threads()
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"host n1: ssh root@127.0.0.1:{port}: no SSH handshake (")
    assert f"is 127.0.0.1:{port} an SSH server? (connect_timeout 1 s" in message
    out, err = capfd.readouterr()
    assert "Traceback" not in err + out and "Exception (client)" not in err + out
    if close:  # paramiko logged the failure: it went to splitbrain's logger, not stderr
        assert any(
            r.name.startswith("paramiko") and "SSH protocol banner" in r.getMessage()
            for r in caplog.records
        )


def test_cli_prints_only_the_line(tmp_path):
    from tests.hardening.test_crash_exit_codes import splitbrain

    with fake_server(b"garbage\r\n", close=True) as port:
        _config(tmp_path, port)
        hosts = tmp_path / "hosts.yaml"
        hosts.write_text(
            f"accept_new_host_keys: true\nknown_hosts: {tmp_path / 'known_hosts'}\n"
            f"connect_timeout: 1\nhosts:\n  - {{address: 127.0.0.1, port: {port}, "
            f"key_file: {tmp_path / 'key'}}}\n"
        )
        proc = splitbrain(
            "test", "--cluster", "ssh", "--ssh-hosts", str(hosts), "--nodes", "1",
            "--time-limit", "1", "--no-progress", "--store", str(tmp_path / "store"),
        )  # fmt: skip
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "Exception (client)" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(
        f"splitbrain test: host n1: ssh root@127.0.0.1:{port}: no SSH handshake ("
    )
    assert line.endswith(
        f"is 127.0.0.1:{port} an SSH server? (connect_timeout 1 s; check the hosts file)"
    )
    (log,) = (tmp_path / "store").glob("*/*/controller.log")
    assert "SSH protocol banner" in log.read_text()
