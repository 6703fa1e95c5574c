"""The `local` host: a node slot on 127.0.0.1 of this machine.

Commands run as plain subprocesses; daemons start detached in their own session (so
they lead their own process group and a signal reaches the whole group) with stdout and
stderr appended to a log file and the pid written to a pid file. `NetnsHost` reuses all
of this with an `ip netns exec` prefix, because a namespace host is still a process of
this kernel with this file system.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from harness.core.protocols import CommandResult, HostError
from harness.hosts import procs


def _describe(argv: Sequence[str]) -> str:
    return shlex.join(str(a) for a in argv)


class LocalHost:
    """Runs commands and daemons directly on this machine (optionally behind a prefix)."""

    kind = "local"

    def __init__(
        self,
        name: str,
        address: str = "127.0.0.1",
        *,
        prefix: Sequence[str] = (),
        on_daemon: Callable[[int], None] | None = None,
    ) -> None:
        self.name = name
        self.address = address
        self.python = sys.executable  # interpreter for python-based nodes on this host
        self._prefix = list(prefix)
        self._on_daemon = on_daemon
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()

    # -- commands -------------------------------------------------------------------
    def _full_argv(self, argv: Sequence[str]) -> list[str]:
        if not argv:
            raise HostError(self.name, "(empty command)", "no argv given")
        return [*self._prefix, *(str(a) for a in argv)]

    @staticmethod
    def _environ(env: Mapping[str, str] | None) -> dict[str, str]:
        merged = dict(os.environ)
        if env:
            merged.update({k: str(v) for k, v in env.items()})
        return merged

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float = 30.0,
        check: bool = True,
        env: Mapping[str, str] | None = None,
        input: bytes | None = None,
    ) -> CommandResult:
        """Run to completion; a non-zero exit (with check), a timeout or a missing program
        raises HostError naming this host and the command."""
        full = self._full_argv(argv)
        command = _describe(argv)
        try:
            proc = subprocess.run(
                full,
                input=input,
                capture_output=True,
                timeout=timeout,
                env=self._environ(env),
                stdin=None if input is not None else subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            raise HostError(self.name, command, f"timed out after {timeout:g}s") from exc
        except OSError as exc:
            raise HostError(self.name, command, exc.strerror or str(exc)) from exc
        result = CommandResult(
            proc.returncode,
            proc.stdout.decode(errors="replace"),
            proc.stderr.decode(errors="replace"),
        )
        return result.raise_for_exit(self.name, command) if check else result

    # -- daemons --------------------------------------------------------------------
    def start_daemon(
        self,
        argv: Sequence[str],
        *,
        log_path: str,
        pid_path: str,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> int:
        """Start detached in a new session; stdout+stderr append to `log_path`."""
        full = self._full_argv(argv)
        command = _describe(argv)
        try:
            Path(log_path).parent.mkdir(parents=True, exist_ok=True)
            Path(pid_path).parent.mkdir(parents=True, exist_ok=True)
            with open(log_path, "ab") as log:
                proc = subprocess.Popen(
                    full,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=self._environ(env),
                    cwd=cwd,
                    start_new_session=True,
                    close_fds=True,
                )
        except OSError as exc:
            raise HostError(self.name, command, exc.strerror or str(exc)) from exc
        with self._lock:
            self._children[proc.pid] = proc
        Path(pid_path).write_text(f"{proc.pid}\n")
        if self._on_daemon is not None:
            self._on_daemon(proc.pid)
        return proc.pid

    def _reap(self, pid: int) -> None:
        with self._lock:
            proc = self._children.get(pid)
        if proc is not None and proc.poll() is not None:
            with self._lock:
                self._children.pop(pid, None)

    def signal(self, pid: int, sig: int) -> None:
        procs.signal_group(pid, sig)
        self._reap(pid)

    def process_state(self, pid: int) -> str | None:
        self._reap(pid)
        state = procs.process_state(pid)
        return None if state in ("Z", "X") else state

    def is_alive(self, pid: int) -> bool:
        return self.process_state(pid) is not None

    def exit_code(self, pid: int) -> int | None:
        """Exit status of a daemon this host started, once it has exited (else None)."""
        with self._lock:
            proc = self._children.get(pid)
        return None if proc is None else proc.poll()

    # -- files ----------------------------------------------------------------------
    def _copy(self, src: Path, dst: Path, command: str) -> None:
        try:
            dst.parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir():
                shutil.copytree(src, dst, dirs_exist_ok=True)
            else:
                shutil.copyfile(src, dst)
        except OSError as exc:
            raise HostError(self.name, command, exc.strerror or str(exc)) from exc

    def upload(self, local: Path, remote: str) -> None:
        self._copy(Path(local), Path(remote), f"upload {local} -> {remote}")

    def download(self, remote: str, local: Path) -> None:
        self._copy(Path(remote), Path(local), f"download {remote} -> {local}")

    def write_file(self, remote: str, data: bytes) -> None:
        path = Path(remote)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except OSError as exc:
            raise HostError(self.name, f"write {remote}", exc.strerror or str(exc)) from exc

    def read_file(self, remote: str) -> bytes:
        try:
            return Path(remote).read_bytes()
        except OSError as exc:
            raise HostError(self.name, f"read {remote}", exc.strerror or str(exc)) from exc

    def close(self) -> None:
        """Reap finished children; running daemons are the DB's to stop, not the host's."""
        with self._lock:
            pids = list(self._children)
        for pid in pids:
            self._reap(pid)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.address!r})"
