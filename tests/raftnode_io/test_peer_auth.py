"""Peer port authentication on real node processes (issue 11, item 1).

Before the token handshake, any local process could send `{"hello": <leader id>}` and an
AppendEntries at the follower's term and have its entry appended and applied, and a 4-byte
length prefix made the node buffer whatever followed, up to 256 MiB."""

from __future__ import annotations

import json
import socket
import struct
import time
from pathlib import Path

import pytest

from raftnode.core.digest import command_digest
from raftnode.core.types import Entry, Message
from raftnode.testing import LoopbackCluster
from raftnode.transport import encode_frame, message_dict

pytestmark = pytest.mark.process


def _closed_by_peer(sock: socket.socket, timeout: float = 5.0) -> bool:
    """True once the other end closes (EOF or reset) within `timeout`."""
    sock.settimeout(timeout)
    try:
        while sock.recv(65536):
            pass
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False
    return True


def _events(c: LoopbackCluster, node: str) -> list[dict]:
    path = c.nodes[node].data_dir / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def test_forged_hello_and_append_are_refused_and_not_applied(cluster: LoopbackCluster) -> None:
    leader = cluster.wait_leader(timeout=60)
    follower = next(n for n in cluster.nodes if n != leader)
    st = cluster.status(follower)
    assert st is not None
    forged = {"op": "write", "key": "forged", "value": 666}
    last = st["last_log_index"]
    append = Message(
        kind="append", src=leader, dst=follower, term=st["term"], log_index=last,
        log_term=st["last_log_term"], entries=[Entry(st["term"], last + 1, forged)],
        commit=last + 1,
    )  # fmt: skip
    with socket.create_connection(("127.0.0.1", cluster.nodes[follower].peer_port), 10) as s:
        s.sendall(
            encode_frame({"hello": leader, "client": "127.0.0.1:9"})
            + encode_frame(message_dict(append))
        )
        closed = _closed_by_peer(s)
    time.sleep(0.5)  # time for a (wrongly) accepted frame to reach the log and be applied
    digest = command_digest(forged)
    applied = [e for e in _events(cluster, follower) if e.get("digest") == digest]
    assert applied == [], applied
    assert closed, "the node kept an unauthenticated connection open"
    code, body = cluster.kv_retry({"op": "read", "key": "forged"}, prefer=follower)
    assert code == 200 and body["value"] is None, body
    assert "refused peer connection" in cluster.log_text(follower)
    # the cluster itself still replicates (its own links are authenticated)
    code, _ = cluster.kv_retry({"op": "write", "key": "genuine", "value": 1}, prefer=leader)
    assert code == 200


def test_huge_length_prefix_before_hello_does_not_allocate(cluster: LoopbackCluster) -> None:
    node = next(iter(cluster.nodes))
    st = cluster.status(node)
    assert st is not None
    before = _rss_kib(st["pid"])
    chunk = b"\x00" * (1 << 20)
    sent = 0
    with socket.create_connection(("127.0.0.1", cluster.nodes[node].peer_port), 10) as s:
        s.settimeout(10)
        try:
            s.sendall(struct.pack(">I", 200 * 1024 * 1024))
            for _ in range(64):  # try to push 64 MiB of "body"
                s.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except TimeoutError:
            pass  # the node stopped reading: nothing is buffered there either
    grown_mib = (_rss_kib(st["pid"]) - before) / 1024
    assert sent < 16 * (1 << 20), f"the node took {sent >> 20} MiB from an unauthenticated peer"
    assert grown_mib < 16, f"node grew by {grown_mib:.0f} MiB"
    assert cluster.status(node) is not None


def test_without_a_token_the_node_warns_its_peer_port_is_open(tmp_path: Path) -> None:
    with LoopbackCluster(tmp_path, n=1, cluster_token=None) as c:
        c.wait_leader(timeout=60)
        assert c.status("n1")["peer_auth"] == "none"  # type: ignore[index]
        assert "UNAUTHENTICATED" in c.log_text("n1")


def test_with_a_token_no_warning(cluster: LoopbackCluster) -> None:
    for name in cluster.nodes:
        assert "UNAUTHENTICATED" not in cluster.log_text(name)
        assert cluster.status(name)["peer_auth"] == "token"  # type: ignore[index]


def test_a_token_file_others_can_read_is_warned_about(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("abc123\n")
    token.chmod(0o644)
    extra = ["--cluster-token-file", str(token)]
    with LoopbackCluster(tmp_path / "c", n=1, cluster_token=None, extra_args=extra) as c:
        c.wait_leader(timeout=60)
        assert "readable by others (mode 644)" in c.log_text("n1")
        assert "UNAUTHENTICATED" not in c.log_text("n1")


def test_raftnode_db_writes_a_fresh_0600_token_per_test(tmp_path: Path) -> None:
    """The harness side: each setup draws a new token, writes it 0600 on every host and
    starts the nodes with --cluster-token-file; the cluster then works end to end."""
    from harness.cluster import open_cluster
    from harness.dbs.raftnode import RaftnodeDB

    names = ["n1", "n2", "n3"]
    with open_cluster("local", names) as cl:
        tokens = []
        for run in ("a", "b"):
            db = RaftnodeDB()
            db.setup(cl.node_specs(tmp_path / run), {"election_ms": 1000, "heartbeat_ms": 100})
            paths = [Path(argv[argv.index("--cluster-token-file") + 1])
                     for argv in (db.command(n) for n in names)]  # fmt: skip
            assert all(p.stat().st_mode & 0o777 == 0o600 for p in paths)
            contents = {p.read_text() for p in paths}
            assert len(contents) == 1 and len(contents.pop().strip()) == 64
            tokens.append(paths[0].read_text())
        assert tokens[0] != tokens[1]
        try:
            for n in names:
                db.start(n)
            deadline = time.monotonic() + 60
            while not any(db.probe(n).role == "leader" for n in names):  # votes flowed
                assert time.monotonic() < deadline, "no leader elected"
                time.sleep(0.1)
            assert all(db.probe(n).raw.get("peer_auth") == "token" for n in names)
        finally:
            db.teardown()
