"""The ssh hosts file: which real machines run the nodes, and how to log in to them.

```yaml
accept_new_host_keys: false        # optional default for every host (false = strict)
known_hosts: ~/.ssh/known_hosts    # optional
hosts:
  - name: n1                       # node name (defaults to n1, n2, … by position)
    address: 192.168.1.11          # required: what nodes and the controller connect to
    port: 22
    user: root
    key_file: ~/.ssh/id_ed25519    # required: key authentication only
    sudo: false                    # run commands through `sudo -n`
    python: python3                # interpreter for python-based nodes
    workdir: /tmp/splitbrain       # node code, data and logs live here
```
A bare list of hosts is accepted too. Every error names the file and the field.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.core.protocols import HarnessError

_HOST_FIELDS = {
    "name", "address", "port", "user", "key_file", "sudo", "python", "workdir",
    "accept_new_host_keys", "known_hosts", "connect_timeout",
}  # fmt: skip
_TOP_FIELDS = {"hosts", "accept_new_host_keys", "known_hosts", "connect_timeout"}


@dataclass(frozen=True)
class SshHostConfig:
    name: str
    address: str
    key_file: str
    port: int = 22
    user: str = "root"
    sudo: bool = False
    python: str = "python3"
    workdir: str = "/tmp/splitbrain"
    accept_new_host_keys: bool = False
    known_hosts: str = "~/.ssh/known_hosts"
    connect_timeout: float = 10.0


class HostsFileError(HarnessError):
    def __init__(self, path: str, where: str, problem: str) -> None:
        super().__init__(f"ssh hosts file {path}: {where}: {problem}")


def _expect(path: str, where: str, value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise HostsFileError(path, where, f"must be {what}, not {value!r}")
    return value


def _host(path: str, index: int, raw: Any, defaults: dict[str, Any]) -> SshHostConfig:
    where = f"hosts[{index}]"
    if not isinstance(raw, dict):
        raise HostsFileError(path, where, "must be a mapping with address, key_file, …")
    unknown = sorted(set(raw) - _HOST_FIELDS)
    if unknown:
        raise HostsFileError(
            path,
            f"{where}.{unknown[0]}",
            f"unknown field (known: {', '.join(sorted(_HOST_FIELDS))})",
        )
    merged = {**defaults, **raw}
    for required in ("address", "key_file"):
        if required not in merged or merged[required] in (None, ""):
            raise HostsFileError(path, f"{where}.{required}", "is required")
    name = _expect(path, f"{where}.name", merged.get("name", f"n{index + 1}"), str, "a string")
    address = _expect(path, f"{where}.address", merged["address"], str, "a host name or IP string")
    port = _expect(path, f"{where}.port", merged.get("port", 22), int, "an integer")
    if not 1 <= port <= 65535:
        raise HostsFileError(path, f"{where}.port", f"must be 1-65535, not {port}")
    user = _expect(path, f"{where}.user", merged.get("user", "root"), str, "a string")
    key_file = os.path.expanduser(
        _expect(path, f"{where}.key_file", merged["key_file"], str, "a path")
    )
    if not Path(key_file).is_file():
        raise HostsFileError(path, f"{where}.key_file", f"no such file: {key_file}")
    sudo = _expect(path, f"{where}.sudo", merged.get("sudo", False), bool, "true or false")
    python = _expect(path, f"{where}.python", merged.get("python", "python3"), str, "a string")
    workdir = _expect(
        path, f"{where}.workdir", merged.get("workdir", "/tmp/splitbrain"), str, "a path"
    )
    if not workdir.startswith("/"):
        raise HostsFileError(path, f"{where}.workdir", f"must be an absolute path, not {workdir!r}")
    accept = _expect(
        path,
        f"{where}.accept_new_host_keys",
        merged.get("accept_new_host_keys", False),
        bool,
        "true or false",
    )
    known = _expect(
        path, f"{where}.known_hosts", merged.get("known_hosts", "~/.ssh/known_hosts"), str, "a path"
    )
    timeout = _expect(
        path,
        f"{where}.connect_timeout",
        merged.get("connect_timeout", 10.0),
        (int, float),
        "a number of seconds",
    )
    return SshHostConfig(
        name=name, address=address, key_file=key_file, port=port, user=user, sudo=sudo,
        python=python, workdir=workdir.rstrip("/") or "/", accept_new_host_keys=accept,
        known_hosts=os.path.expanduser(known), connect_timeout=float(timeout),
    )  # fmt: skip


def parse_hosts(data: Any, path: str = "<hosts>") -> list[SshHostConfig]:
    """Validate an already-loaded hosts document."""
    defaults: dict[str, Any] = {}
    if isinstance(data, dict):
        unknown = sorted(set(data) - _TOP_FIELDS)
        if unknown:
            raise HostsFileError(
                path, unknown[0], f"unknown field (known: {', '.join(sorted(_TOP_FIELDS))})"
            )
        defaults = {k: v for k, v in data.items() if k != "hosts"}
        data = data.get("hosts")
    if not isinstance(data, list) or not data:
        raise HostsFileError(path, "hosts", "must be a non-empty list of hosts")
    hosts = [_host(path, i, raw, defaults) for i, raw in enumerate(data)]
    seen: set[str] = set()
    for i, host in enumerate(hosts):
        if host.name in seen:
            raise HostsFileError(path, f"hosts[{i}].name", f"duplicate name {host.name!r}")
        seen.add(host.name)
    return hosts


def load_hosts_file(path: str | Path) -> list[SshHostConfig]:
    """Read and validate a YAML hosts file; every problem is one HarnessError line."""
    text_path = str(path)
    try:
        data = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError as exc:
        raise HarnessError(f"ssh hosts file {text_path}: no such file") from exc
    except yaml.YAMLError as exc:
        raise HarnessError(
            f"ssh hosts file {text_path}: not valid YAML ({exc})".replace("\n", " ")
        ) from exc
    return parse_hosts(data, text_path)
