"""Issue 11 item 7: a controller killed mid-run leaves nothing that cleanup cannot find.

A real `splitbrain test --cluster local --db raftnode` runs as a child process with its
own state dir. After SIGKILL its nodes live on (one SIGSTOPped on purpose), and
`splitbrain cleanup RUN` - or simply the next `splitbrain test` - kills exactly those
processes, removes the temporary node dirs and the run record, and leaves the nodes'
logs in the store. SIGTERM behaves like Ctrl-C: the run ends with results.json and the
verdict's exit code instead of 143.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from harness.hosts import procs
from tests.conftest import requires_netns
from tests.e2e.conftest import requires_raftnode
from tests.e2e.test_e2e import wait_for

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "harness.cli"]


def gone(pid: int) -> bool:
    return procs.process_state(pid) in (None, "Z", "X")


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    """A private state dir; whatever a failed test left recorded in it is removed."""
    directory = tmp_path / "state"
    directory.mkdir()
    yield directory
    for path in directory.glob("*.run"):
        record = json.loads(path.read_text())
        for entry in record.get("pids", []):
            procs.kill_and_wait(entry["pid"], entry.get("start"))
        if record.get("lab"):
            subprocess.run([*CLI, "lab", "down", "--name", record["lab"]], cwd=ROOT, check=False)
        for tmpdir in record.get("tmpdirs", []):
            shutil.rmtree(tmpdir, ignore_errors=True)


def start_test(store: Path, state: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, "test", "--db", "raftnode", "--nodes", "3", "--time-limit", "120", "--seed", "4",
         "--nemesis", "pause", "--nemesis-interval", "1", *args, "--store", str(store),
         "--no-progress"],
        cwd=ROOT,
        env={**os.environ, "SPLITBRAIN_STATE_DIR": str(state)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )  # fmt: skip


def running_record(state: Path, store: Path) -> tuple[dict[str, Any], Path]:
    """Wait until the run is under way (30 ok ops, 3 daemons recorded): its run record
    and its run directory."""
    history = wait_for(lambda: next(store.glob("*/*/history.jsonl"), None), 120, "a history")
    wait_for(lambda: history.read_text().count('"type":"ok"') >= 30, 120, "30 ok ops")
    path = wait_for(lambda: next(state.glob("run-*.run"), None), 10, "a run record")
    record = json.loads(path.read_text())
    assert len(record["pids"]) == 3 and record["run_dir"] == str(history.parent.resolve())
    return record, history.parent


def kill_controller(controller: subprocess.Popen[str]) -> None:
    os.kill(controller.pid, signal.SIGKILL)  # the controller only: its nodes live on
    controller.wait(timeout=30)


@contextmanager
def under_way(
    store: Path, state: Path, cluster: str
) -> Iterator[tuple[subprocess.Popen[str], dict[str, Any], Path]]:
    """A test running on `cluster`, well under way: (controller, run record, run dir).
    The controller is SIGKILLed on exit if the block left it running."""
    controller = start_test(store, state, "--cluster", cluster)
    try:
        record, run_dir = running_record(state, store)
        yield controller, record, run_dir
    finally:
        if controller.poll() is None:
            kill_controller(controller)


def assert_nothing_left(record: dict[str, Any], state: Path, run_dir: Path) -> None:
    pids = [entry["pid"] for entry in record["pids"]]
    wait_for(lambda: all(gone(pid) for pid in pids), 30, f"nodes {pids} to be gone")
    assert not [d for d in record["tmpdirs"] if Path(d).exists()]
    assert not list(state.glob("*.run"))
    for node in ("n1", "n2", "n3"):
        assert (run_dir / "nodes" / node / "node.log").stat().st_size > 0
        assert (run_dir / "nodes" / node / "events.jsonl").stat().st_size > 0
        assert not (run_dir / "nodes" / node / "wal.log").exists()  # logs, not data


@pytest.mark.slow
@requires_raftnode
@pytest.mark.parametrize("how", ["cleanup RUN", "cleanup", "next test"])
def test_sigkilled_local_controller_is_cleaned_up(tmp_path, state, how):
    store = tmp_path / "store"
    with under_way(store, state, "local") as (controller, record, run_dir):
        stopped = record["pids"][1]["pid"]
        os.kill(stopped, signal.SIGSTOP)  # a pause nemesis may leave a node stopped
        wait_for(lambda: procs.process_state(stopped) == "T", 10, "a stopped node")
    pids = [entry["pid"] for entry in record["pids"]]
    assert not any(gone(pid) for pid in pids)  # the debris the issue describes
    assert all(Path(d).is_dir() for d in record["tmpdirs"])
    assert not (run_dir / "nodes" / "n1" / "node.log").exists()
    env = {**os.environ, "SPLITBRAIN_STATE_DIR": str(state)}
    if how == "next test":
        args = ["test", "--db", "null", "--nemesis", "none", "--time-limit", "0.3"]
        proc = subprocess.run(
            [*CLI, *args, "--store", str(tmp_path / "next"), "--no-progress"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
        (log,) = (tmp_path / "next").glob("*/*/controller.log")
        assert re.search(
            rf"reaped a dead controller's run: run {re.escape(record_id(run_dir))} "
            rf"\(controller pid {controller.pid}\): killed pids \[",
            log.read_text(),
        )
    else:
        target = [record_id(run_dir)] if how == "cleanup RUN" else []
        proc = subprocess.run(
            [*CLI, "cleanup", *target], cwd=ROOT, env=env, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert f"run {record_id(run_dir)} (controller pid {controller.pid}): killed pids" in (
            proc.stdout
        )
        assert f"splitbrain check {run_dir}" in proc.stdout
    assert_nothing_left(record, state, run_dir)
    assert "cleanup by pid" in (run_dir / "controller.log").read_text()
    # and what was recorded can still be checked
    check = subprocess.run(
        [*CLI, "check", str(run_dir)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert check.returncode in (0, 2), check.stdout + check.stderr  # a prefix; never invalid
    assert "raft-safety" in check.stdout


def record_id(run_dir: Path) -> str:
    return f"{run_dir.parent.name}/{run_dir.name}"


@pytest.mark.slow
@requires_raftnode
def test_cleanup_leaves_a_live_run_alone(tmp_path, state):
    env = {**os.environ, "SPLITBRAIN_STATE_DIR": str(state)}
    with under_way(tmp_path / "store", state, "local") as (controller, record, run_dir):
        everything = subprocess.run(
            [*CLI, "cleanup"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        named = subprocess.run(
            [*CLI, "cleanup", str(run_dir)], cwd=ROOT, env=env, capture_output=True, text=True,
            timeout=60,
        )  # fmt: skip
        assert not any(gone(entry["pid"]) for entry in record["pids"])
        controller.send_signal(signal.SIGTERM)
        controller.communicate(timeout=180)
    assert everything.returncode == 0 and "nothing to clean up" in everything.stdout
    assert named.returncode == 2
    assert named.stderr.strip() == (
        f"splitbrain cleanup: run {run_dir} is still running (controller pid {controller.pid}): "
        f"stop it with kill -TERM {controller.pid} (it then tears down by itself), or pass --force"
    )


@pytest.mark.slow
@requires_raftnode
def test_sigterm_ends_the_run_like_ctrl_c(tmp_path, state):
    with under_way(tmp_path / "store", state, "local") as (controller, record, run_dir):
        controller.send_signal(signal.SIGTERM)
        output, _ = controller.communicate(timeout=180)
    assert "Traceback" not in output
    results = json.loads((run_dir / "results.json").read_text())
    expected = {True: 0, False: 1}.get(results["valid"], 2)
    assert controller.returncode == expected != 143, output
    assert results["checkers"] and "raft-safety" in results["checkers"]
    assert (run_dir / "report.html").is_file()
    assert "interrupted" in output
    assert_nothing_left(record, state, run_dir)


@pytest.mark.slow
@requires_netns
@requires_raftnode
def test_sigkilled_netns_controller_is_cleaned_up(tmp_path, state):
    from harness.hosts.netns import existing_namespaces

    with under_way(tmp_path / "store", state, "netns") as (controller, record, run_dir):
        assert record["lab"], record
        kill_controller(controller)
    lab = record["lab"]
    assert {ns for ns in existing_namespaces() if ns.startswith(f"sb-{lab}")}  # debris
    env = {**os.environ, "SPLITBRAIN_STATE_DIR": str(state)}
    proc = subprocess.run(
        [*CLI, "cleanup", str(run_dir)], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"removed lab {lab}" in proc.stdout
    assert not {ns for ns in existing_namespaces() if ns.startswith(f"sb-{lab}")}
    assert not (state / f"{lab}.json").exists()
    node_pids = [entry["pid"] for entry in record["pids"]]
    assert not node_pids or all(gone(pid) for pid in node_pids)
    assert_nothing_left({**record, "pids": []}, state, run_dir)
