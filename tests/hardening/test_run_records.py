"""Run records of local clusters (issue 11 item 7), without a real DB: quick and exact.

A child process opens a `local` cluster with a run directory, places two nodes, starts
a `sleep` daemon per node, writes node logs, and is SIGKILLed; `splitbrain cleanup` then
removes exactly what the record names.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from click.testing import CliRunner

from harness.cli import main
from harness.hosts import local_state, procs

ROOT = Path(__file__).resolve().parents[2]

CRASHER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from harness.cluster import open_cluster
    cluster = open_cluster("local", ["n1", "n2"], run_dir=sys.argv[1])
    for spec in cluster.node_specs():
        Path(spec.data_dir).mkdir(parents=True)
        Path(spec.log_path).write_text(spec.name + " log\\n")
        Path(spec.data_dir, "events.jsonl").write_text('{"ev": "start"}\\n')
        Path(spec.data_dir, "wal.log").write_bytes(b"wal")
        spec.host.start_daemon(["sleep", "600"], log_path=spec.log_path,
                               pid_path=spec.extra["node_dir"] + "/pid")
    print("READY", flush=True)
    time.sleep(600)
    """
)


def _crash(tmp_path: Path, env: dict[str, str]) -> tuple[local_state.RunRecord, Path]:
    run_dir = tmp_path / "store" / "t" / "20260101T000000"
    (run_dir / "nodes").mkdir(parents=True)
    child = subprocess.Popen(
        [sys.executable, "-c", CRASHER, str(run_dir)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "READY"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    (record,) = local_state.all_runs()[0]
    return record, run_dir


def _gone(pid: int) -> bool:
    return procs.process_state(pid) in (None, "Z", "X")


def test_cleanup_by_id_removes_exactly_the_recorded_run(tmp_path, monkeypatch):
    env = {**os.environ, "SPLITBRAIN_STATE_DIR": str(tmp_path / "state")}
    monkeypatch.setenv("SPLITBRAIN_STATE_DIR", env["SPLITBRAIN_STATE_DIR"])
    bystander = subprocess.Popen(["sleep", "600"])  # not recorded: must survive
    try:
        record, run_dir = _crash(tmp_path, env)
        pids = [p.pid for p in record.pids]
        assert len(pids) == 2 and not any(_gone(p) for p in pids)
        assert record.run_dir == str(run_dir.resolve()) and record.run_id == "t/20260101T000000"
        assert not record.controller_alive
        result = CliRunner().invoke(main, ["cleanup", "20260101T000000"])
        assert result.exit_code == 0, result.output
        deadline = time.monotonic() + 10
        while not all(_gone(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(_gone(p) for p in pids)
        assert not _gone(bystander.pid)
        assert not any(Path(d).exists() for d in record.tmpdirs)
        assert local_state.all_runs() == ([], [])
        for node in ("n1", "n2"):
            kept = sorted(p.name for p in (run_dir / "nodes" / node).iterdir())
            assert kept == ["events.jsonl", "node.log"]  # logs, not the WAL
            assert (run_dir / "nodes" / node / "node.log").read_text() == f"{node} log\n"
        again = CliRunner().invoke(main, ["cleanup", str(run_dir)])
        assert again.exit_code == 0 and "nothing left to clean up" in again.output
    finally:
        bystander.kill()
        bystander.wait()


def test_unknown_run_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("SPLITBRAIN_STATE_DIR", str(tmp_path / "state"))
    result = CliRunner().invoke(main, ["cleanup", "nosuch/20990101T000000"])
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "splitbrain cleanup: no run 'nosuch/20990101T000000' is recorded"
    )


def test_unwritable_state_dir_falls_back_to_a_private_one(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("SPLITBRAIN_STATE_DIR", str(blocker / "labs"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the fallback's parent
    directory = local_state.run_state_dir()
    assert directory == tmp_path / f"splitbrain-state-{os.getuid()}" and directory.is_dir()
    session = local_state.RunSession("local", run_dir=tmp_path)
    try:
        assert session.path is not None and session.path.parent == directory
        assert json.loads(session.path.read_text())["run_dir"] == str(tmp_path.resolve())
    finally:
        session.close()
    assert not session.path


def test_older_session_files_are_still_reaped(tmp_path, monkeypatch):
    monkeypatch.setenv("SPLITBRAIN_STATE_DIR", str(tmp_path))
    daemon = subprocess.Popen(["sleep", "600"], start_new_session=True)
    try:
        legacy = tmp_path / "local-1-abc.session"
        legacy.write_text(
            json.dumps(
                {
                    "owner_pid": 2**22 + 7,  # no such controller
                    "owner_start": 1,
                    "pids": [
                        {"pid": daemon.pid, "start": procs.start_time(daemon.pid), "node": "n1"}
                    ],
                }
            )
        )
        assert local_state.reap_orphans() == {"local-1-abc.session": [daemon.pid]}
        assert _gone(daemon.pid)  # (the reaper also reaped it: no exit status left to see)
        assert not legacy.exists()
    finally:
        if daemon.poll() is None:
            daemon.kill()
