"""open_cluster for local and netns, default kind, and cleanup when the controller dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.cluster import default_cluster_kind, open_cluster
from harness.core.protocols import HarnessError
from harness.hosts import lab_state, local_state, netns, procs
from tests.conftest import can_admin_network, requires_netns
from tests.harness_hosts.conftest import lab_leftovers, wait_for


def test_local_cluster_specs_have_distinct_free_ports():
    cluster = open_cluster("local", ["n1", "n2", "n3"])
    try:
        assert cluster.kind == "local" and cluster.nodes == ["n1", "n2", "n3"]
        specs = cluster.node_specs()
        ports = [p for s in specs for p in (s.peer_port, s.client_port)]
        assert len(set(ports)) == 6 and all(p > 0 for p in ports)
        assert {s.host.address for s in specs} == {"127.0.0.1"}
        base = Path(specs[0].data_dir).parents[1]
        assert base.is_dir() and len({s.data_dir for s in specs}) == 3
    finally:
        cluster.close()
    assert not base.exists()  # the temporary node dir goes with the cluster
    cluster.close()  # idempotent


def test_given_base_dir_is_kept(tmp_path):
    with open_cluster("local", ["n1"]) as cluster:
        (spec,) = cluster.node_specs(tmp_path)
        assert spec.data_dir == f"{tmp_path}/n1/data" and spec.log_path == f"{tmp_path}/n1/node.log"
    assert tmp_path.exists()


@pytest.mark.parametrize(
    ("kind", "names", "kwargs", "message"),
    [
        ("vm", ["n1"], {}, "unknown cluster kind 'vm'"),
        ("ssh", ["n1"], {}, "needs --ssh-hosts"),
        ("local", ["n1", "n1"], {}, "distinct"),
        ("local", ["bad name"], {}, "node name"),
        ("local", [], {}, "at least one node"),
    ],
)
def test_bad_requests_are_one_line_errors(kind, names, kwargs, message):
    with pytest.raises(HarnessError, match=message):
        open_cluster(kind, names, **kwargs)


def test_default_kind_explains_itself():
    kind, reason = default_cluster_kind()
    assert kind == ("netns" if can_admin_network()[0] else "local")
    assert reason.startswith(kind + ":") and "\n" not in reason


@requires_netns
def test_netns_cluster_removes_its_lab_on_close():
    cluster = open_cluster("netns", ["n1", "n2"])
    lab = cluster.lab
    record = lab_state.load(lab)
    try:
        assert cluster.kind == "netns" and record is not None
        specs = cluster.node_specs()
        assert {s.client_port for s in specs} == {8001}
        assert len({s.host.address for s in specs}) == 2
    finally:
        cluster.close()
    assert lab_leftovers(lab, record.subnet) == []


@requires_netns
def test_netns_cluster_attaches_to_existing_lab_and_leaves_it(make_lab):
    record = make_lab(["n1", "n2", "n3"])
    cluster = open_cluster("netns", ["n1", "n2"], lab=record.name)
    assert cluster.hosts["n2"].address == record.nodes["n2"].address
    cluster.close()
    assert lab_state.load(record.name) is not None  # not ours to remove
    with pytest.raises(HarnessError, match="not \\['n9'\\]"):
        open_cluster("netns", ["n9"], lab=record.name)


EXITER = textwrap.dedent(
    """
    import os, sys, time
    from harness.cluster import open_cluster
    cluster = open_cluster("netns", ["n1", "n2"])
    print(cluster.lab, flush=True)
    if sys.argv[1] == "exit":
        sys.exit(0)          # forgot close(): atexit must remove the lab
    time.sleep(600)          # wait for SIGTERM / SIGINT
    """
)


@requires_netns
@pytest.mark.parametrize("how", ["exit", "sigterm", "sigint"])
def test_lab_removed_when_controller_exits_or_is_terminated(how):
    child = subprocess.Popen(
        [sys.executable, "-c", EXITER, how], stdout=subprocess.PIPE, text=True, cwd=os.getcwd()
    )
    lab = None
    try:
        assert child.stdout is not None
        lab = child.stdout.readline().strip()
        assert lab and lab_state.load(lab) is not None
        if how != "exit":
            child.send_signal(signal.SIGTERM if how == "sigterm" else signal.SIGINT)
        code = child.wait(timeout=60)
        assert code == {"exit": 0, "sigterm": 128 + signal.SIGTERM, "sigint": -signal.SIGINT}[how]
        assert lab_leftovers(lab) == []
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if lab:
            netns.destroy_lab(lab)


def test_local_cluster_close_kills_daemons_the_db_left_running(tmp_path):
    cluster = open_cluster("local", ["n1"])
    host = cluster.hosts["n1"]
    pid = host.start_daemon(
        ["sleep", "300"], log_path=str(tmp_path / "l"), pid_path=str(tmp_path / "p")
    )
    assert host.is_alive(pid)
    cluster.close()
    assert wait_for(lambda: procs.process_state(pid) in (None, "Z"))


LOCAL_CRASHER = textwrap.dedent(
    """
    import sys, time
    from harness.cluster import open_cluster
    cluster = open_cluster("local", ["n1", "n2"])
    for node, host in cluster.hosts.items():
        pid = host.start_daemon(["sleep", "600"], log_path=sys.argv[1] + "/" + node + ".log",
                                pid_path=sys.argv[1] + "/" + node + ".pid")
    print("READY", flush=True)
    time.sleep(600)
    """
)


def test_local_daemons_of_a_killed_controller_are_reaped(tmp_path):
    child = subprocess.Popen(
        [sys.executable, "-c", LOCAL_CRASHER, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.getcwd(),
    )
    pids: list[int] = []
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "READY"
        pids = [int((tmp_path / f"{n}.pid").read_text()) for n in ("n1", "n2")]
        child.kill()
        child.wait(timeout=30)
        assert all(procs.process_state(p) not in (None, "Z") for p in pids)  # orphans survive
        reaped = local_state.reap_orphans()
        assert any(sorted(killed) == sorted(pids) for killed in reaped.values())
        assert wait_for(lambda: all(procs.process_state(p) in (None, "Z") for p in pids))
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for pid in pids:
            procs.kill_and_wait(pid)
