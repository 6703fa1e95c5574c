"""netns labs: addresses reachable from the controller, isolation, and complete cleanup."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from harness.hosts import lab_state, netns, procs
from harness.lab import lab_group
from tests.conftest import requires_netns
from tests.harness_hosts.conftest import lab_leftovers, wait_for

pytestmark = [requires_netns, pytest.mark.root]

ECHO_SERVER = textwrap.dedent(
    """
    import socket, sys
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[1], int(sys.argv[2]))); s.listen()
    while True:
        c, peer = s.accept(); c.sendall(peer[0].encode()); c.close()
    """
)


def _connect_and_read(address: str, port: int) -> str:
    with socket.create_connection((address, port), timeout=5) as sock:
        return sock.recv(100).decode()


def test_nodes_have_distinct_namespaces_and_reachable_addresses(make_lab, tmp_path):
    record = make_lab(["n1", "n2", "n3"])
    hosts = netns.hosts_for(record)
    assert len({h.namespace for h in hosts.values()}) == 3
    assert len({h.address for h in hosts.values()}) == 3
    for host in hosts.values():
        assert host.kind == "netns"
        addrs = host.run(["ip", "-4", "-o", "addr", "show", "dev", "eth0"]).stdout
        assert f"{host.address}/24" in addrs
    # A server in n1 is reachable from the controller and from n2, not on n2's loopback.
    n1, n2 = hosts["n1"], hosts["n2"]
    pid = n1.start_daemon(
        [sys.executable, "-c", ECHO_SERVER, n1.address, "7999"],
        log_path=str(tmp_path / "e.log"),
        pid_path=str(tmp_path / "e.pid"),
    )
    assert wait_for(lambda: _try(lambda: _connect_and_read(n1.address, 7999)) is not None)
    assert _connect_and_read(n1.address, 7999) == record.host_address  # from the controller
    probe = f"import socket; c=socket.create_connection(('{n1.address}', 7999), timeout=5); print(c.recv(100).decode())"
    assert n2.run([sys.executable, "-c", probe]).stdout.strip() == n2.address
    local = n2.run(
        [
            sys.executable,
            "-c",
            "import socket; socket.create_connection(('127.0.0.1', 7999), timeout=2)",
        ],
        check=False,
    )
    assert local.exit_code != 0  # namespaces do not share loopback
    # The daemon is recorded in the lab state for crash cleanup.
    assert pid in [p.pid for p in lab_state.load(record.name).pids]


def _try(func):
    try:
        return func()
    except OSError:
        return None


def test_concurrent_labs_get_distinct_subnets(make_lab):
    a = make_lab(["n1"])
    b = make_lab(["n1"])
    assert a.subnet != b.subnet
    assert a.nodes["n1"].address != b.nodes["n1"].address


def test_destroy_removes_everything_and_is_idempotent(make_lab, tmp_path):
    record = make_lab(["n1", "n2"])
    host = netns.hosts_for(record)["n1"]
    pid = host.start_daemon(
        ["sleep", "300"], log_path=str(tmp_path / "l"), pid_path=str(tmp_path / "p")
    )
    removed = netns.destroy_lab(record.name)
    assert f"pid {pid}" in removed
    assert not procs.same_process(pid, None) or procs.process_state(pid) == "Z"
    assert lab_leftovers(record.name, record.subnet) == []
    assert netns.destroy_lab(record.name) == []


def test_lab_cli_up_status_down(tmp_path):
    runner = CliRunner()
    name = f"t{os.getpid() % 100000}c"
    try:
        up = runner.invoke(lab_group, ["up", "--name", name, "--nodes", "2"])
        assert up.exit_code == 0, up.output
        assert "n2" in up.output and lab_state.load(name) is not None
        status = runner.invoke(lab_group, ["status"])
        assert name in status.output
        again = runner.invoke(lab_group, ["up", "--name", name])
        assert again.exit_code == 2 and "already exists" in again.output
        down = runner.invoke(lab_group, ["down", "--name", name])
        assert down.exit_code == 0 and f"netns sb-{name}-n1" in down.output
        assert lab_leftovers(name) == []
        assert "nothing left" in runner.invoke(lab_group, ["down", "--name", name]).output
        bad = runner.invoke(lab_group, ["up", "--name", "Bad Name"])
        assert bad.exit_code == 2 and "lab name" in bad.output and "Traceback" not in bad.output
    finally:
        netns.destroy_lab(name)


CRASHER = textwrap.dedent(
    """
    import sys, time
    from harness.hosts import netns
    record = netns.create_lab(["n1", "n2", "n3"], sys.argv[1])
    for node, host in netns.hosts_for(record).items():
        host.start_daemon(["sleep", "600"], log_path=sys.argv[2] + "/" + node + ".log",
                          pid_path=sys.argv[2] + "/" + node + ".pid")
    print("READY", flush=True)
    time.sleep(600)
    """
)


def test_lab_down_after_controller_sigkill(tmp_path):
    name = f"k{os.getpid() % 100000}x"
    child = subprocess.Popen(
        [sys.executable, "-c", CRASHER, name, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.getcwd(),
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "READY"
        record = lab_state.load(name)
        assert record is not None and len(record.pids) == 3
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        pids = [int((tmp_path / f"{n}.pid").read_text()) for n in ("n1", "n2", "n3")]
        assert all(procs.process_state(p) is not None for p in pids)  # orphans survived the crash
        result = CliRunner().invoke(lab_group, ["down", "--name", name])
        assert result.exit_code == 0, result.output
        assert wait_for(lambda: all(procs.process_state(p) in (None, "Z") for p in pids))
        assert lab_leftovers(name, record.subnet) == []
        assert json.dumps(lab_state.all_names()).count(name) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        netns.destroy_lab(name)
