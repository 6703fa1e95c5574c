"""Fixtures for host tests: labs that are always removed, also when a test fails."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from harness.hosts import lab_state, netns


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def lab_leftovers(name: str, subnet: str | None = None) -> list[str]:
    """Everything of lab `name` still present on the machine (empty when clean)."""
    left = [
        f"netns {ns}"
        for ns in netns.existing_namespaces()
        if ns == f"sb-{name}" or ns.startswith(f"sb-{name}-")
    ]
    if subprocess.run(["ip", "link", "show", f"sb{name}"], capture_output=True).returncode == 0:
        left.append(f"link sb{name}")
    if subnet:
        routes = subprocess.run(
            ["ip", "-4", "route", "show", subnet], capture_output=True, text=True
        ).stdout
        if routes.strip():
            left.append(f"route {routes.strip()}")
    if lab_state.record_path(name).exists():
        left.append("state file")
    return left


@pytest.fixture
def make_lab():
    """make_lab(["n1", ...]) -> LabRecord; every lab made is destroyed at teardown."""
    made: list[str] = []

    def factory(nodes, name=None):
        record = netns.create_lab(nodes, name)
        made.append(record.name)
        return record

    yield factory
    for name in made:
        netns.destroy_lab(name)


PY = sys.executable
