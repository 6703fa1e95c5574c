"""Faults over the `ssh` kind, for real: sshd runs inside each node's namespace
(harness.sshd.ssh_lab) and every nemesis command goes through paramiko."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from harness import sshd
from harness.cluster import open_cluster
from harness.core.faketime import FAKETIME_LIB
from nemeses import make_fault, net
from tests.conftest import requires_command, requires_netns
from tests.nemeses import checks
from tests.nemeses.fakedb import Cluster, Ctx, StubDB

pytestmark = [
    requires_netns,
    requires_command("/usr/sbin/sshd", "openssh-server"),
    pytest.mark.root,
]
NODES = ["n1", "n2", "n3"]


@pytest.fixture(scope="module")
def ssh_lab(tmp_path_factory: pytest.TempPathFactory):
    """One lab of namespaces with sshd in each, shared by the tests of this file."""
    with sshd.ssh_lab(NODES, tmp_path_factory.mktemp("sshlab")) as lab:
        yield lab


@pytest.fixture
def ssh_ctx(ssh_lab, tmp_path: Path):
    """Stub nodes started over SSH, under libfaketime where it is installed."""
    cluster = open_cluster("ssh", NODES, ssh_hosts_file=ssh_lab.hosts_file)
    faketime = Path(FAKETIME_LIB).exists()
    db = StubDB(dict(cluster.hosts), tmp_path / "db", leader="n1", faketime=faketime)
    try:
        for node in NODES:
            db.start(node)
        yield Ctx(Cluster(dict(cluster.hosts), "ssh"), db, list(NODES), random.Random(3))
    finally:
        db.teardown()
        cluster.close()


def test_partition_kill_and_pause_over_ssh(ssh_ctx):
    hosts = ssh_ctx.cluster.hosts
    part = make_fault("partition", random.Random(1))
    part.setup(ssh_ctx)
    done = part.invoke("start-partition", {"topology": "leader"}, ssh_ctx)
    assert done["mechanism"] == "blackhole" and done["verified"] is True
    assert net.probe_all(hosts) == {"n1": {"n2", "n3"}, "n2": {"n1"}, "n3": {"n1"}}
    part.invoke("stop-partition", None, ssh_ctx)
    assert net.probe_all(hosts) == {"n1": set(), "n2": set(), "n3": set()}

    kill = make_fault("kill", random.Random(2))
    pause = make_fault("pause", random.Random(2), kill.claims)
    pid = ssh_ctx.db.pid("n2")
    kill.invoke("start-kill", {"target": "n2"}, ssh_ctx)
    assert not hosts["n2"].is_alive(pid)
    paused = pause.invoke("start-pause", {"target": "n3"}, ssh_ctx)
    assert paused["states"] == {"n3": "T"}
    pause.heal_all(ssh_ctx)
    kill.heal_all(ssh_ctx)
    assert all(ssh_ctx.db.probe(n, timeout=5).reachable for n in NODES)


def test_clock_over_ssh(ssh_ctx):
    if not ssh_ctx.db.faketime:
        pytest.skip("the clock fault needs Debian's libfaketime (faketime)")
    checks.clock_bump_is_visible_and_reset(ssh_ctx)


@requires_command("iptables", "iptables")
def test_packet_loss_over_ssh(ssh_ctx):
    checks.packet_loss_drops_and_heals(ssh_ctx)


def test_disk_truncate_over_ssh(ssh_ctx):
    checks.disk_truncate_past_sync_recovers(ssh_ctx)
