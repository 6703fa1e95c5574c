"""LocalHost: commands, detached daemons in their own process group, signals, files."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from harness.core.protocols import Host, HostError
from harness.hosts import procs
from harness.hosts.local import LocalHost


def wait_for(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.fixture
def host():
    h = LocalHost("n1")
    started: list[int] = []
    original = h.start_daemon

    def tracked(*args, **kwargs):
        pid = original(*args, **kwargs)
        started.append(pid)
        return pid

    h.start_daemon = tracked  # type: ignore[method-assign]
    yield h
    for pid in started:
        procs.kill_and_wait(pid)
    h.close()


def test_is_a_host(host):
    assert isinstance(host, Host)
    assert host.kind == "local" and host.address == "127.0.0.1"


def test_run_captures_output_env_and_input(host):
    result = host.run(
        [
            sys.executable,
            "-c",
            "import os,sys; print(os.environ['SB_X']); print(sys.stdin.read().upper())",
        ],
        env={"SB_X": "a b"},
        input=b"hey",
    )
    assert result.exit_code == 0
    assert result.stdout.split() == ["a", "b", "HEY"]


def test_run_failure_names_host_and_command(host):
    with pytest.raises(HostError) as info:
        host.run([sys.executable, "-c", "import sys; sys.stderr.write('boom\\n'); sys.exit(3)"])
    assert (
        "host n1" in str(info.value)
        and "exit code 3" in str(info.value)
        and "boom" in str(info.value)
    )
    assert host.run(["false"], check=False).exit_code == 1


def test_run_timeout_and_missing_program(host):
    with pytest.raises(HostError, match="timed out"):
        host.run(["sleep", "5"], timeout=0.3)
    with pytest.raises(HostError, match="no-such-program-sb"):
        host.run(["no-such-program-sb"])


def test_daemon_own_group_logs_and_pidfile(host, tmp_path):
    log, pidfile = tmp_path / "d.log", tmp_path / "d.pid"
    code = "import os,time; print(f'pgid {os.getpgid(0)} end', flush=True); time.sleep(60)"
    pid = host.start_daemon(
        [sys.executable, "-c", code], log_path=str(log), pid_path=str(pidfile), cwd=str(tmp_path)
    )
    assert int(pidfile.read_text()) == pid
    assert wait_for(lambda: "end" in log.read_text())
    assert log.read_text().split() == ["pgid", str(pid), "end"]  # leads its own process group
    assert os.getpgid(pid) != os.getpgid(0)
    assert host.is_alive(pid)


def test_signal_reaches_the_whole_group_and_pause_resume(host, tmp_path):
    # A shell that spawns a child: SIGKILL to the group must take both down.
    pid = host.start_daemon(
        ["sh", "-c", "sleep 60 & echo $! > child; wait"],
        log_path=str(tmp_path / "l"),
        pid_path=str(tmp_path / "p"),
        cwd=str(tmp_path),
    )
    assert wait_for(
        lambda: (tmp_path / "child").exists() and (tmp_path / "child").read_text().strip() != ""
    )
    child = int((tmp_path / "child").read_text())
    host.signal(pid, signal.SIGSTOP)
    assert wait_for(lambda: host.process_state(pid) == "T")
    host.signal(pid, signal.SIGCONT)
    assert wait_for(lambda: host.process_state(pid) in ("S", "R"))
    host.signal(pid, signal.SIGKILL)
    assert wait_for(lambda: not host.is_alive(pid))
    assert wait_for(lambda: procs.process_state(child) in (None, "Z"))
    host.signal(pid, signal.SIGKILL)  # already gone: no error
    assert host.process_state(pid) is None


def test_a_zombie_leader_with_threads_still_exiting_is_not_dead_yet():
    assert procs.effective_state("S", []) == "S"
    assert procs.effective_state("Z", ["Z", "R"]) == "R"  # a thread is still on its way out
    assert procs.effective_state("Z", ["Z", None, "X"]) == "Z"  # every thread gone
    assert procs.effective_state(None, []) is None


LISTENER_WITH_THREADS = """
import socket, sys, threading, time
server = socket.create_server(("127.0.0.1", 0))
for _ in range(8):
    threading.Thread(target=lambda: [sum(range(10000)) for _ in iter(int, 1)], daemon=True).start()
print(server.getsockname()[1], flush=True)
time.sleep(60)
"""


def test_a_killed_multithreaded_daemon_is_dead_only_once_its_socket_is_closed(host, tmp_path):
    """After SIGKILL the leader thread may exit first; until the other threads have, the
    kernel keeps the listening socket open. A DB's kill() that trusts is_alive must not
    see a "dead" node that still accepts connections (35 of 40 did, before)."""
    for attempt in range(10):
        log = tmp_path / f"l{attempt}.log"
        pid = host.start_daemon(
            [sys.executable, "-c", LISTENER_WITH_THREADS],
            log_path=str(log),
            pid_path=str(tmp_path / f"p{attempt}"),
            cwd=str(tmp_path),
        )
        assert wait_for(lambda: log.read_text().strip().isdigit())  # noqa: B023
        port = int(log.read_text())
        host.signal(pid, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while host.is_alive(pid):  # polled without sleeping, to catch the window if any
            assert time.monotonic() < deadline, f"pid {pid} outlived SIGKILL by 20 s"
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_upload_download_write_read(host, tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "f.txt").write_text("payload")
    host.upload(src, str(tmp_path / "remote" / "dir"))
    assert (tmp_path / "remote" / "dir" / "sub" / "f.txt").read_text() == "payload"
    host.download(str(tmp_path / "remote" / "dir" / "sub" / "f.txt"), tmp_path / "back" / "g.txt")
    assert (tmp_path / "back" / "g.txt").read_text() == "payload"
    host.write_file(str(tmp_path / "w" / "x.bin"), b"\x00\x01")
    assert host.read_file(str(tmp_path / "w" / "x.bin")) == b"\x00\x01"
    with pytest.raises(HostError, match="read"):
        host.read_file(str(tmp_path / "absent"))
    with pytest.raises(HostError, match="download"):
        host.download(str(tmp_path / "absent"), Path(tmp_path / "y"))
