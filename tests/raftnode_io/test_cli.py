"""`python -m raftnode` as a user meets it: --help, --list-bugs, bad flags (exit 2), a corrupt
data dir (exit 3, one line), and `dump`."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from raftnode.bugs import BUGS
from raftnode.core.types import Entry, HardState, Snapshot
from raftnode.kv import KVStateMachine
from raftnode.storage import HEADER, Storage, parse_records
from raftnode.testing import REPO_ROOT, LoopbackCluster, free_ports


def _run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "raftnode", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=timeout,
    )


def _node_args(data_dir: Path) -> list[str]:
    peer, client = free_ports(2)
    return [
        "--id", "n1", "--peers", f"n1=127.0.0.1:{peer}",
        "--client", f"127.0.0.1:{client}", "--data-dir", str(data_dir),
    ]  # fmt: skip


def _write_log(data_dir: Path, n: int) -> None:
    s = Storage.open(data_dir)
    s.load()
    for i in range(1, n + 1):
        s.save(
            HardState(2, "n1", i - 1), [Entry(2, i, {"op": "write", "key": f"k{i}", "value": i})]
        )
    s.close()


def test_help_documents_flags() -> None:
    out = _run("--help")
    assert out.returncode == 0
    for flag in ("--id", "--peers", "--client", "--data-dir", "--bug", "--list-bugs", "--tick-ms",
                 "--election-ms", "--heartbeat-ms", "--snapshot-every", "--log-level", "dump"):  # fmt: skip
        assert flag in out.stdout, flag


def test_list_bugs_matches_registry() -> None:
    bugs = BUGS
    out = _run("--list-bugs")
    assert out.returncode == 0
    lines = out.stdout.strip().splitlines()
    assert len(lines) == len(bugs) >= 10
    for name, what in bugs.items():
        assert any(line.split()[0] == name and what in line for line in lines), name


@pytest.mark.parametrize(
    "mutate,needle",
    [
        (lambda a: [x for x in a if x not in ("--id", "n1")], "--id"),
        (lambda a: a[:1] + ["n9"] + a[2:], "not among --peers"),
        (lambda a: a + ["--bug", "no-such-bug"], "unknown bug"),
        (lambda a: a[:3] + ["n1=127.0.0.1"] + a[4:], "bad address"),
        (lambda a: a + ["--tick-ms", "0"], "positive"),
        (lambda a: a + ["--tick-ms", "ten"], "invalid int"),
        (lambda a: a + ["--heartbeat-ms", "900"], "shorter"),
        (
            lambda a: a + ["--tick-ms", "100", "--election-ms", "200", "--heartbeat-ms", "150"],
            "fit",
        ),
    ],
)
def test_bad_flags_exit_2(tmp_path: Path, mutate, needle) -> None:
    out = _run(*mutate(_node_args(tmp_path)))
    assert out.returncode == 2, out.stderr
    assert needle in out.stderr
    assert "Traceback" not in out.stderr


def test_bad_cluster_token_flags_exit_2(tmp_path: Path) -> None:
    args = _node_args(tmp_path / "d")
    empty = tmp_path / "empty.token"
    empty.write_text("\n")
    for extra, needle in (
        (["--cluster-token-file", str(tmp_path / "nope")], "--cluster-token-file"),
        (["--cluster-token-file", str(empty)], "is empty"),
        (["--cluster-token", ""], "--cluster-token is empty"),
        (["--cluster-token", "a", "--cluster-token-file", str(empty)], "not allowed with"),
    ):
        out = _run(*args, *extra)
        assert out.returncode == 2 and needle in out.stderr, (extra, out.stderr)
        assert "Traceback" not in out.stderr


def test_corrupt_data_dir_exits_3(tmp_path: Path) -> None:
    _write_log(tmp_path, 5)
    wal = tmp_path / "wal.log"
    data = bytearray(wal.read_bytes())
    off = parse_records(bytes(data)).records[2][0]
    data[off + HEADER.size + 4] ^= 0x21
    wal.write_bytes(bytes(data))
    out = _run(*_node_args(tmp_path))
    assert out.returncode == 3
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "corrupt" in lines[0] and f"offset {off}" in lines[0]
    assert str(wal) in lines[0]
    dumped = _run("dump", str(tmp_path))
    assert (
        dumped.returncode == 3 and "corrupt" in dumped.stderr and "Traceback" not in dumped.stderr
    )


def _snapshot_and_wal(data_dir: Path) -> None:
    """A data dir as a node leaves it after compaction: snapshot at 10, entries 11..12."""
    s = Storage.open(data_dir)
    s.load()
    s.save(
        HardState(2, "n1", 10),
        [Entry(2, i, {"op": "write", "key": "k", "value": i}) for i in range(1, 13)],
    )
    s.save(None, [], Snapshot(index=10, term=2, data=KVStateMachine().snapshot()))
    s.compact(10)
    s.close()


@pytest.mark.parametrize(
    "damage,culprit",
    [
        ("wal-deleted", "wal.log"),
        ("wal-emptied", "wal.log"),
        ("wal-garbage", "wal.log"),
        ("snapshot-deleted", "wal.log"),
    ],
)
def test_lost_state_exits_3_with_one_line(tmp_path: Path, damage: str, culprit: str) -> None:
    """Issue 11 item 2: these were taken as a torn tail at offset 0 (the node forgot its
    term and vote) or crashed later with `ValueError: log gap`."""
    _snapshot_and_wal(tmp_path)
    wal, snap = tmp_path / "wal.log", tmp_path / "snapshot.bin"
    {
        "wal-deleted": wal.unlink,
        "wal-emptied": lambda: wal.write_bytes(b""),
        "wal-garbage": lambda: wal.write_bytes(b"\xa5" * 4096),
        "snapshot-deleted": snap.unlink,
    }[damage]()
    out = _run(*_node_args(tmp_path))
    assert out.returncode == 3, out.stderr[-2000:]
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and str(tmp_path / culprit) in lines[0], lines
    assert "refusing to start" in lines[0] and "Traceback" not in out.stderr


def test_fresh_data_dir_starts(tmp_path: Path) -> None:
    with LoopbackCluster(tmp_path / "fresh", n=1) as c:
        c.wait_leader(timeout=60)
        assert c.kv("n1", {"op": "write", "key": "a", "value": 1})[0] == 200


def test_dump_json_and_text(tmp_path: Path) -> None:
    _write_log(tmp_path, 3)
    out = _run("dump", str(tmp_path), "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["hard_state"] == {"term": 2, "voted_for": "n1", "commit": 2}
    assert doc["snapshot"] is None
    assert [e["index"] for e in doc["entries"]] == [1, 2, 3]
    assert doc["entries"][0]["command"] == {"op": "write", "key": "k1", "value": 1}
    canon = json.dumps(
        {"op": "write", "key": "k3", "value": 3}, sort_keys=True, separators=(",", ":")
    )
    assert doc["entries"][2]["digest"] == hashlib.sha256(canon.encode()).hexdigest()[:16]
    text = _run("dump", str(tmp_path))
    assert text.returncode == 0
    assert "term=2 voted_for=n1 commit=2" in text.stdout and '"key":"k3"' in text.stdout
    missing = _run("dump", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "not a directory" in missing.stderr


def test_disk_thread_choice_avoids_libfaketime() -> None:
    from harness.core.faketime import faketime_env
    from raftnode.cli import disk_thread_wanted

    preloaded = faketime_env("/tmp/clock")  # what a DB starts a node with for clock faults
    assert disk_thread_wanted("auto", {}) is True
    assert disk_thread_wanted("auto", preloaded) is False
    assert disk_thread_wanted("on", preloaded) is True
    assert disk_thread_wanted("off", {}) is False


def test_a_stop_that_hangs_still_exits_nonzero() -> None:
    """The backstop behind fail-stop: once stopping starts, the process is gone within the
    deadline even if something in the shutdown never returns."""
    code = "import time; from raftnode.cli import _exit_after; _exit_after(0.3); time.sleep(60)"
    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=30
    )
    assert out.returncode == 1 and "stopping took over 0.3 s; exiting" in out.stderr
    assert time.monotonic() - started < 20
