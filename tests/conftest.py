"""Shared test helpers: skip markers for tests that need root or a Debian package.

CI runs as root with every package installed, so there these tests always run; on a
developer machine without them they skip with a reason that says what is missing.

Why the netns check is a marker evaluated at setup: it creates (and deletes) a network
namespace, which only a run that selects such a test should do, and at most once.
"""

from __future__ import annotations

import functools
import os
import shutil

import pytest

from harness.hosts import netns

requires_netns = pytest.mark.requires_netns
NETNS_REASON = "needs root and iproute2 able to create network namespaces (CI has both)"


@functools.cache
def can_admin_network() -> tuple[bool, str]:
    """Whether this process may create network namespaces, and why not (tried once)."""
    return netns.can_admin_network()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"requires_netns: {NETNS_REASON}; skips otherwise")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("requires_netns") is not None:
        ok, why = can_admin_network()
        if not ok:
            pytest.skip(f"{NETNS_REASON}: {why}")


def requires_command(name: str, package: str) -> pytest.MarkDecorator:
    """Skip unless `name` is on PATH (or an absolute path exists); names the Debian package."""
    present = os.path.exists(name) if os.path.isabs(name) else shutil.which(name) is not None
    return pytest.mark.skipif(
        not present, reason=f"needs {name} (Debian package {package}; .ci/setup installs it)"
    )
