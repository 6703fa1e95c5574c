"""Shared test helpers: skip markers for tests that need root or a Debian package.

CI runs as root with every package installed, so there these tests always run; on a
developer machine without them they skip with a reason that says what is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest


def _can_admin_network() -> bool:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return False
    probe = f"sbprobe{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True).returncode == 0
    if made:
        subprocess.run(["ip", "netns", "delete", probe], capture_output=True)
    return made


CAN_ADMIN_NETWORK = _can_admin_network()

requires_netns = pytest.mark.skipif(
    not CAN_ADMIN_NETWORK,
    reason="needs root and iproute2 able to create network namespaces (CI has both)",
)


def requires_command(name: str, package: str) -> pytest.MarkDecorator:
    """Skip unless `name` is on PATH (or an absolute path exists); names the Debian package."""
    present = os.path.exists(name) if os.path.isabs(name) else shutil.which(name) is not None
    return pytest.mark.skipif(
        not present, reason=f"needs {name} (Debian package {package}; .ci/setup installs it)"
    )
