"""Run a throw-away OpenSSH server inside a netns host, for testing the `ssh` kind for real.

The server gets its own host key, config, authorized_keys and pid file under `workdir`
and listens only on the node's lab address, so it never touches the machine's own sshd.
It runs as a daemon recorded in the lab state, so `lab down` removes it with the lab.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.core.protocols import HarnessError, Host

SSHD = "/usr/sbin/sshd"


@dataclass
class SshdHandle:
    host: Host
    pid: int
    port: int
    host_public_key: str  # "ssh-ed25519 AAAA…"

    def known_hosts_line(self) -> str:
        name = self.host.address if self.port == 22 else f"[{self.host.address}]:{self.port}"
        return f"{name} {self.host_public_key}\n"

    def stop(self) -> None:
        self.host.signal(self.pid, signal.SIGKILL)


def generate_key(path: Path) -> str:
    """Make an ed25519 key pair without passphrase at `path`; returns the public line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for old in (path, path.with_suffix(".pub")):
        old.unlink(missing_ok=True)
    proc = subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "splitbrain", "-f", str(path)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise HarnessError(f"ssh-keygen -f {path}: {proc.stderr.strip()}")
    pub = Path(f"{path}.pub").read_text().split()
    return f"{pub[0]} {pub[1]}"


def start_sshd(
    host: Host, workdir: Path, authorized_key: str, port: int = 22, timeout: float = 20.0
) -> SshdHandle:
    """Start sshd on `host` (a netns host) accepting `authorized_key` for any user."""
    workdir.mkdir(parents=True, exist_ok=True)
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation dir
    host_key = workdir / "ssh_host_ed25519_key"
    public = generate_key(host_key)
    (workdir / "authorized_keys").write_text(authorized_key.strip() + "\n")
    config = workdir / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                f"ListenAddress {host.address}",
                f"HostKey {host_key}",
                f"PidFile {workdir / 'sshd.pid'}",
                f"AuthorizedKeysFile {workdir / 'authorized_keys'}",
                "PermitRootLogin prohibit-password",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "StrictModes no",
                "UseDNS no",
                "Subsystem sftp internal-sftp",
                "LogLevel ERROR",
                "",
            ]
        )
    )
    pid = host.start_daemon(
        [SSHD, "-D", "-e", "-f", str(config)],
        log_path=str(workdir / "sshd.log"),
        pid_path=str(workdir / "sshd.daemon.pid"),
    )
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host.address, port), timeout=1.0):
                break
        except OSError:
            if not host.is_alive(pid):
                log = (workdir / "sshd.log").read_text(errors="replace").strip()
                raise HarnessError(f"host {host.name}: {SSHD} exited: {log[-300:]}") from None
            if time.monotonic() > deadline:
                host.signal(pid, signal.SIGKILL)
                raise HarnessError(
                    f"host {host.name}: {SSHD} not listening after {timeout:g}s"
                ) from None
            time.sleep(0.05)
    return SshdHandle(host=host, pid=pid, port=port, host_public_key=public)


@dataclass
class SshLab:
    """A netns lab with sshd on every node and a ready-to-use hosts file."""

    lab: str
    hosts_file: Path
    key_file: Path
    known_hosts: Path
    sshds: dict[str, SshdHandle]


def write_hosts_file(
    path: Path,
    sshds: dict[str, SshdHandle],
    key_file: Path,
    known_hosts: Path,
    *,
    workdir: Path,
    python: str,
    accept_new: bool = False,
) -> None:
    """A hosts file (docs/cluster-kinds.md) for `sshds`, one host per node."""
    import yaml

    doc = {
        "accept_new_host_keys": accept_new,
        "known_hosts": str(known_hosts),
        "hosts": [
            {
                "name": node,
                "address": handle.host.address,
                "port": handle.port,
                "user": "root",
                "key_file": str(key_file),
                "python": python,
                "workdir": str(workdir / node),
            }
            for node, handle in sshds.items()
        ],
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


@contextlib.contextmanager
def ssh_lab(
    node_names: list[str], workdir: Path, *, trust_host_keys: bool = True
) -> Iterator[SshLab]:
    """Create a lab, start sshd in every node namespace, write key, known_hosts and a
    hosts file under `workdir`; remove the lab (sshd included) on exit.

    With `trust_host_keys` the servers' keys go into known_hosts (strict checking then
    passes); without, known_hosts stays empty so the strict default must reject them.
    """
    from harness.hosts import netns

    workdir.mkdir(parents=True, exist_ok=True)
    record = netns.create_lab(node_names)
    try:
        key_file = workdir / "id_ed25519"
        public = generate_key(key_file)
        hosts = netns.hosts_for(record)
        sshds = {
            node: start_sshd(host, workdir / "sshd" / node, public) for node, host in hosts.items()
        }
        known_hosts = workdir / "known_hosts"
        known_hosts.write_text(
            "".join(h.known_hosts_line() for h in sshds.values()) if trust_host_keys else ""
        )
        hosts_file = workdir / "hosts.yaml"
        write_hosts_file(
            hosts_file,
            sshds,
            key_file,
            known_hosts,
            workdir=workdir / "nodes",
            python=sys.executable,
        )
        yield SshLab(record.name, hosts_file, key_file, known_hosts, sshds)
    finally:
        netns.destroy_lab(record.name)
