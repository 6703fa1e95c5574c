"""Record of daemons started on a `local` cluster, so nothing outlives a dead controller.

A `local` cluster has no namespace to delete: its nodes are plain processes. Each open
local cluster writes a session file (`<state dir>/local-<owner pid>-<random>.session`)
listing its daemons by pid and start time. `Cluster.close()` kills whatever is still
recorded (a safety net behind `DB.teardown`) and removes the file; after a SIGKILL of the
controller, `splitbrain lab down --all` finds sessions whose owner is gone and kills
their daemons. Without a writable state dir (not root) recording is silently skipped:
the local kind must work for everyone.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path

from harness.hosts import procs
from harness.hosts.lab_state import locked, state_dir


class LocalSession:
    """The daemons of one open local cluster."""

    def __init__(self) -> None:
        self.path: Path | None = state_dir() / f"local-{os.getpid()}-{secrets.token_hex(3)}.session"
        try:
            with locked():
                self._write(
                    {
                        "owner_pid": os.getpid(),
                        "owner_start": procs.start_time(os.getpid()),
                        "pids": [],
                    }
                )
        except OSError:
            self.path = None

    def _write(self, data: dict) -> None:
        assert self.path is not None
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self.path)

    def add(self, pid: int, node: str) -> None:
        if self.path is None:
            return
        with contextlib.suppress(OSError, ValueError), locked():
            data = json.loads(self.path.read_text())
            data["pids"].append({"pid": pid, "start": procs.start_time(pid), "node": node})
            self._write(data)

    def close(self) -> list[int]:
        """Kill every recorded daemon still running; remove the session file."""
        if self.path is None:
            return []
        killed = kill_session(self.path)
        self.path = None
        return killed


def kill_session(path: Path) -> list[int]:
    """Kill the live daemons recorded in session file `path` and delete the file."""
    killed = []
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {"pids": []}
    for entry in data.get("pids", []):
        if procs.same_process(entry["pid"], entry.get("start")):
            procs.kill_and_wait(entry["pid"], entry.get("start"))
            killed.append(entry["pid"])
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    return killed


def reap_orphans() -> dict[str, list[int]]:
    """Clean up sessions whose controller is gone: {session file name: pids killed}."""
    directory = state_dir()
    if not directory.is_dir():
        return {}
    reaped = {}
    for path in sorted(directory.glob("local-*.session")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if procs.same_process(data.get("owner_pid", 0), data.get("owner_start")):
            continue  # its controller is still running
        reaped[path.name] = kill_session(path)
    return reaped
