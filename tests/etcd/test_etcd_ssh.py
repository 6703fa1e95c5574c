"""EtcdDB over SSH (sshd in network namespaces): the binary is looked for on each host,
a missing one is one line naming the fix, and a 3-member cluster runs, survives a kill
of its leader and is torn down by pid."""

from __future__ import annotations

import pytest

from harness.cluster import open_cluster
from harness.core.protocols import HostError
from harness.dbs.etcd import EtcdDB
from nemeses.base import wait_until
from tests.conftest import requires_command, requires_netns
from tests.etcd.conftest import requires_etcd

NODES = ["n1", "n2", "n3"]
pytestmark = [
    requires_etcd,
    pytest.mark.root,
    pytest.mark.process,
    requires_netns,
    requires_command("/usr/sbin/sshd", "openssh-server"),
    requires_command("ssh-keygen", "openssh-client"),
]


def leader(db: EtcdDB) -> str | None:
    claims = [n for n in NODES if db.probe(n).role == "leader"]
    return claims[0] if claims else None


def test_etcd_over_ssh(tmp_path):
    from harness.sshd import ssh_lab

    with ssh_lab(NODES, tmp_path) as lab:
        cluster = open_cluster("ssh", NODES, ssh_hosts_file=lab.hosts_file)
        db = EtcdDB()
        try:
            with pytest.raises(HostError) as caught:
                db.setup(cluster.node_specs(), {"etcd_bin": "/opt/none/etcd"})
            message = str(caught.value)
            assert message.startswith("host n1: /opt/none/etcd --version: etcd not found")
            assert "apt-get install etcd-server" in message and "\n" not in message

            db.setup(cluster.node_specs(), {"snapshot_count": 50})
            assert db.version().startswith("3.")
            for node in NODES:
                db.start(node)
            assert wait_until(lambda: leader(db) is not None, 30.0)
            first = leader(db)
            client = db.client(NODES[(NODES.index(first) + 1) % 3])  # through a follower
            assert client.invoke("write", "x", [1, 2], 5.0).type == "ok"
            db.kill(first)
            assert wait_until(lambda: leader(db) not in (None, first), 30.0)
            assert client.invoke("append", "x", 3, 5.0).type == "ok"
            db.start(first)
            assert db.client(first).invoke("read", "x", None, 10.0).value == [1, 2, 3]
        finally:
            pids = {n: db.pid(n) for n in db._nodes if db.pid(n)}
            db.teardown()
            survivors = [n for n, p in pids.items() if cluster.hosts[n].is_alive(p)]
            cluster.close()
        assert pids and survivors == []
