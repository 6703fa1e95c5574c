"""End-to-end helpers: run `splitbrain test` as a user would, as a child process.

Each run stores under the test's tmp_path, so its history, results and controller log
can be inspected; the child's own teardown removes its cluster, and a finalizer removes
any lab a run left behind (e.g. the crash-safety test kills the controller on purpose).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CLI = [sys.executable, "-c", "from harness.cli import main; main()"]
RUN_TIMEOUT_S = 300


def raftnode_ready() -> tuple[bool, str]:
    """Whether the raftnode node and its DB adapter are importable and runnable."""
    try:
        import harness.dbs.raftnode  # noqa: F401
    except ImportError as exc:
        return False, f"harness.dbs.raftnode not available ({exc})"
    proc = subprocess.run(
        [sys.executable, "-m", "raftnode", "--list-bugs"], capture_output=True, text=True
    )
    if proc.returncode != 0:
        return False, f"python -m raftnode --list-bugs failed: {proc.stderr.strip()[:200]}"
    return True, ""


_READY, _WHY = raftnode_ready()
requires_raftnode = pytest.mark.skipif(not _READY, reason=_WHY or "raftnode ready")


@dataclass
class Run:
    """One finished `splitbrain test` run."""

    code: int
    output: str
    run_dir: Path

    @property
    def results(self) -> dict[str, Any]:
        return json.loads((self.run_dir / "results.json").read_text())

    @property
    def controller_log(self) -> str:
        return (self.run_dir / "controller.log").read_text()

    @property
    def lab(self) -> str | None:
        found = re.search(r"lab: (\S+)", self.controller_log)
        return found.group(1) if found else None


def splitbrain_test(store: Path, *args: str, timeout: float = RUN_TIMEOUT_S) -> Run:
    """`splitbrain test ARGS --store STORE --no-progress`; returns the exit code and run dir."""
    proc = subprocess.run(
        [*CLI, "test", *args, "--store", str(store), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    output = proc.stdout + proc.stderr
    assert "Traceback" not in output, output
    found = re.search(r"store (\S+)", proc.stdout)
    assert found, output
    return Run(proc.returncode, output, Path(found.group(1)))


def lab_down(name: str) -> None:
    subprocess.run([*CLI, "lab", "down", "--name", name], capture_output=True, timeout=120)


def namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


@pytest.fixture
def store(tmp_path: Path):
    """A store dir; at the end, any lab a run in it named is removed (idempotent)."""
    path = tmp_path / "store"
    yield path
    for log in path.glob("*/*/controller.log"):
        found = re.search(r"lab: (\S+)", log.read_text())
        if found:
            lab_down(found.group(1))
