"""Workloads: each pairs an op generator with the workload name the checkers use.

``build(name, options)`` returns a :class:`workloads.base.Workload`; ``NAMES`` lists
them. The op formats are pinned in docs/interfaces.md §5.
"""

from __future__ import annotations

import importlib

from workloads.base import Workload, WorkloadOptions

NAMES = ("kv+append", "register", "kv", "set", "append", "counter", "bank")
DEFAULT = "kv+append"
# Workload name -> module (names with "+" are not module names).
MODULES = {"kv+append": "mix"}


def build(name: str, options: WorkloadOptions | None = None) -> Workload:
    """The workload called ``name``; ValueError (one line) for an unknown name."""
    if name not in NAMES:
        raise ValueError(f"unknown workload {name!r} (known: {', '.join(NAMES)})")
    module = importlib.import_module(f"workloads.{MODULES.get(name, name)}")
    return module.workload(options or WorkloadOptions())


__all__ = ["DEFAULT", "NAMES", "Workload", "WorkloadOptions", "build"]
