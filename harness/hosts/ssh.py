"""The `ssh` host: a real machine reached with paramiko.

Security defaults: key authentication only (no agent, no guessing keys), host keys
checked against known_hosts with paramiko's RejectPolicy; `accept_new_host_keys: true`
accepts and records *unknown* keys (like OpenSSH's accept-new) while a *changed* key is
still refused. Every argument is shell-quoted with shlex.quote — callers pass argv
lists, never shell strings. Daemons start with `setsid nohup … &` so they lead their own
process group and survive the SSH session; their pid goes to a pid file.
"""

from __future__ import annotations

import logging
import posixpath
import select
import shlex
import stat
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import paramiko

from harness.core.protocols import CommandResult, HostError
from harness.hosts.procs import effective_state, parse_state
from harness.hosts.ssh_config import SshHostConfig


class _ToSplitbrainLog(logging.Handler):
    """Re-log paramiko's records under `splitbrain.ssh.paramiko`: into controller.log
    during a run (the `splitbrain` logger's file), and nowhere else."""

    def emit(self, record: logging.LogRecord) -> None:
        _PARAMIKO_SINK.handle(record)


def _route_paramiko_logs() -> None:
    """paramiko's transport thread logs a failed handshake (a non-SSH banner, a reset)
    as ERROR with a 20-line traceback; with no handler configured, Python's last-resort
    handler printed it on the user's terminal before our own one-line error. Route it
    to the controller log instead. Idempotent."""
    paramiko_log = logging.getLogger("paramiko")
    if not any(isinstance(h, _ToSplitbrainLog) for h in paramiko_log.handlers):
        paramiko_log.addHandler(_ToSplitbrainLog())
        paramiko_log.propagate = False


_PARAMIKO_SINK = logging.getLogger("splitbrain.ssh.paramiko")
_PARAMIKO_SINK.addHandler(logging.NullHandler())  # found a handler: no last-resort print
_route_paramiko_logs()
# What paramiko says when the peer is not an SSH server (or says nothing in time).
_NO_SSH_SERVER = ("SSH protocol banner", "No existing session", "Negotiation failed")


def _quote_argv(argv: Sequence[str]) -> str:
    return " ".join(shlex.quote(str(a)) for a in argv)


def _env_prefix(env: Mapping[str, str] | None) -> str:
    if not env:
        return ""
    for key in env:
        if not key.replace("_", "a").isalnum():
            raise ValueError(f"bad environment variable name {key!r}")
    return "env " + " ".join(shlex.quote(f"{k}={v}") for k, v in env.items()) + " "


class SshHost:
    """One node's machine over SSH. Thread-safe: each call opens its own channel."""

    kind = "ssh"

    def __init__(self, config: SshHostConfig, *, connect: bool = True) -> None:
        self.config = config
        self.name = config.name
        self.address = config.address
        self.python = config.python
        self.workdir = config.workdir
        self._client: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None
        self._lock = threading.RLock()
        if connect:
            self.connect()

    # -- connection -----------------------------------------------------------------
    @property
    def _target(self) -> str:
        return f"{self.config.user}@{self.config.address}:{self.config.port}"

    def connect(self) -> None:
        """Open the SSH session; unreachable hosts and bad keys are one-line HostErrors."""
        cfg = self.config
        command = f"ssh {self._target}"
        client = paramiko.SSHClient()
        known = Path(cfg.known_hosts)
        if known.is_file():
            client.load_host_keys(str(known))
        elif cfg.accept_new_host_keys:
            known.parent.mkdir(parents=True, exist_ok=True)
            known.touch(mode=0o600)
            client.load_host_keys(str(known))
        if cfg.accept_new_host_keys:
            client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        else:
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            client.connect(
                cfg.address,
                port=cfg.port,
                username=cfg.user,
                key_filename=cfg.key_file,
                timeout=cfg.connect_timeout,
                banner_timeout=cfg.connect_timeout,
                auth_timeout=cfg.connect_timeout,
                allow_agent=False,
                look_for_keys=False,
            )
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise HostError(
                self.name,
                command,
                f"host key CHANGED for {cfg.address} (known_hosts {known}); refusing",
            ) from exc
        except paramiko.AuthenticationException as exc:
            client.close()
            raise HostError(
                self.name, command, f"authentication failed with key {cfg.key_file}"
            ) from exc
        except paramiko.SSHException as exc:
            client.close()
            text = str(exc)
            if any(sign in text for sign in _NO_SSH_SERVER):
                text = (
                    f"no SSH handshake ({text.rstrip('.')}): is {cfg.address}:{cfg.port} an SSH "
                    f"server? (connect_timeout {cfg.connect_timeout:g} s; check the hosts file)"
                )
            elif "not found in known_hosts" in text:
                text = (
                    f"unknown host key ({text}); add it to {known} "
                    "(ssh-keyscan) or set accept_new_host_keys: true in the hosts file"
                )
            raise HostError(self.name, command, text) from exc
        except (TimeoutError, OSError) as exc:
            client.close()
            raise HostError(self.name, command, f"unreachable: {exc}") from exc
        self._client = client

    def _transport(self, command: str) -> paramiko.Transport:
        with self._lock:
            if self._client is None:
                self.connect()
            assert self._client is not None
            transport = self._client.get_transport()
            if transport is None or not transport.is_active():
                self._client.close()
                self._client = None
                self._sftp = None
                self.connect()
                transport = self._client.get_transport()  # type: ignore[union-attr]
            if transport is None:
                raise HostError(self.name, command, "ssh session is not active")
            return transport

    def _sftp_client(self, command: str) -> paramiko.SFTPClient:
        with self._lock:
            self._transport(command)
            if self._sftp is None:
                assert self._client is not None
                try:
                    self._sftp = self._client.open_sftp()
                except (paramiko.SSHException, OSError) as exc:
                    raise HostError(self.name, command, f"sftp unavailable: {exc}") from exc
            return self._sftp

    # -- commands -------------------------------------------------------------------
    def _wrap(self, shell_command: str) -> str:
        """Apply sudo (non-interactive) around a shell command line."""
        if self.config.sudo:
            return "sudo -n -- sh -c " + shlex.quote(shell_command)
        return shell_command

    def _exec(
        self, shell_command: str, describe: str, timeout: float, input: bytes | None
    ) -> CommandResult:
        transport = self._transport(describe)
        try:
            channel = transport.open_session(timeout=timeout)
            channel.settimeout(0.5)
            channel.exec_command(self._wrap(shell_command))
            if input:
                channel.sendall(input)
            channel.shutdown_write()
        except (paramiko.SSHException, OSError) as exc:
            raise HostError(self.name, describe, f"ssh channel failed: {exc}") from exc
        out: list[bytes] = []
        err: list[bytes] = []
        deadline = time.monotonic() + timeout
        try:
            while True:
                got = False
                if channel.recv_ready():
                    out.append(channel.recv(65536))
                    got = True
                if channel.recv_stderr_ready():
                    err.append(channel.recv_stderr(65536))
                    got = True
                if (
                    channel.exit_status_ready()
                    and not channel.recv_ready()
                    and not channel.recv_stderr_ready()
                ):
                    break
                if time.monotonic() > deadline:
                    raise HostError(self.name, describe, f"timed out after {timeout:g}s")
                if not got:
                    # The channel's fileno becomes readable on data, stderr or close.
                    select.select([channel], [], [], 0.05)
            code = channel.recv_exit_status()
        finally:
            channel.close()
        return CommandResult(
            code, b"".join(out).decode(errors="replace"), b"".join(err).decode(errors="replace")
        )

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float = 30.0,
        check: bool = True,
        env: Mapping[str, str] | None = None,
        input: bytes | None = None,
    ) -> CommandResult:
        if not argv:
            raise HostError(self.name, "(empty command)", "no argv given")
        describe = shlex.join(str(a) for a in argv)
        result = self._exec(_env_prefix(env) + _quote_argv(argv), describe, timeout, input)
        return result.raise_for_exit(self.name, describe) if check else result

    def start_daemon(
        self,
        argv: Sequence[str],
        *,
        log_path: str,
        pid_path: str,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> int:
        describe = shlex.join(str(a) for a in argv)
        q = shlex.quote
        # A simple command in the background: `$!` is then the daemon's own pid (setsid and
        # nohup exec in place), and it leads a new session, hence its own process group.
        script = (
            f"mkdir -p {q(posixpath.dirname(log_path) or '.')} {q(posixpath.dirname(pid_path) or '.')} || exit 1; "
            + (f"cd {q(cwd)} || exit 1; " if cwd else "")
            + f"setsid nohup {_env_prefix(env)}{_quote_argv(argv)} >> {q(log_path)} 2>&1 < /dev/null & "
            + f"echo $! > {q(pid_path)}; echo $!"
        )
        result = self._exec(script, describe, 30.0, None)
        text = result.stdout.strip().splitlines()
        if result.exit_code != 0 or not text or not text[-1].isdigit():
            detail = result.stderr.strip() or result.stdout.strip() or f"exit {result.exit_code}"
            raise HostError(self.name, describe, f"could not start daemon: {detail}")
        return int(text[-1])

    def signal(self, pid: int, sig: int) -> None:
        sig_n, pid_n = int(sig), int(pid)
        self._exec(
            f"kill -{sig_n} -{pid_n} 2>/dev/null || kill -{sig_n} {pid_n} 2>/dev/null; true",
            f"kill -{sig_n} {pid_n}",
            30.0,
            None,
        )

    def process_state(self, pid: int) -> str | None:
        pid_n = int(pid)
        result = self._exec(
            f"cat /proc/{pid_n}/stat /proc/{pid_n}/task/*/stat 2>/dev/null; true",
            f"stat {pid}",
            30.0,
            None,
        )
        lines = result.stdout.strip().splitlines()
        if not lines:
            return None
        state = effective_state(parse_state(lines[0]), map(parse_state, lines[1:]))
        return None if state in (None, "Z", "X") else state

    def is_alive(self, pid: int) -> bool:
        return self.process_state(pid) is not None

    # -- files ----------------------------------------------------------------------
    def _mkdirs(self, remote_dir: str) -> None:
        self.run(["mkdir", "-p", remote_dir])

    def upload(self, local: Path, remote: str) -> None:
        command = f"upload {local} -> {remote}"
        local = Path(local)
        sftp = self._sftp_client(command)
        try:
            if local.is_dir():
                self._mkdirs(remote)
                for path in sorted(local.rglob("*")):
                    target = posixpath.join(remote, path.relative_to(local).as_posix())
                    if path.is_dir():
                        self._mkdirs(target)
                    else:
                        sftp.put(str(path), target)
            else:
                self._mkdirs(posixpath.dirname(remote) or "/")
                sftp.put(str(local), remote)
        except (OSError, paramiko.SSHException) as exc:
            raise HostError(self.name, command, str(exc) or type(exc).__name__) from exc

    def download(self, remote: str, local: Path) -> None:
        command = f"download {remote} -> {local}"
        local = Path(local)
        sftp = self._sftp_client(command)
        try:
            if stat.S_ISDIR(sftp.stat(remote).st_mode or 0):
                local.mkdir(parents=True, exist_ok=True)
                for entry in sftp.listdir_attr(remote):
                    self.download(posixpath.join(remote, entry.filename), local / entry.filename)
            else:
                local.parent.mkdir(parents=True, exist_ok=True)
                sftp.get(remote, str(local))
        except (OSError, paramiko.SSHException) as exc:
            raise HostError(self.name, command, str(exc) or type(exc).__name__) from exc

    def write_file(self, remote: str, data: bytes) -> None:
        command = f"write {remote}"
        self._mkdirs(posixpath.dirname(remote) or "/")
        sftp = self._sftp_client(command)
        tmp = f"{remote}.tmp"
        try:
            with sftp.open(tmp, "wb") as handle:
                handle.write(data)
            sftp.posix_rename(tmp, remote)
        except (OSError, paramiko.SSHException) as exc:
            raise HostError(self.name, command, str(exc) or type(exc).__name__) from exc

    def read_file(self, remote: str) -> bytes:
        command = f"read {remote}"
        sftp = self._sftp_client(command)
        try:
            with sftp.open(remote, "rb") as handle:
                return handle.read()
        except (OSError, paramiko.SSHException) as exc:
            raise HostError(self.name, command, str(exc) or type(exc).__name__) from exc

    def close(self) -> None:
        with self._lock:
            if self._sftp is not None:
                try:
                    self._sftp.close()
                except Exception:  # noqa: BLE001 - closing a dead session
                    pass
            if self._client is not None:
                self._client.close()
            self._sftp = None
            self._client = None

    def __repr__(self) -> str:
        return f"SshHost({self.name!r}, {self._target!r})"
