"""Find DB implementations by name through the `splitbrain.dbs` entry point group.

A third-party package declares, in its pyproject.toml,

    [project.entry-points."splitbrain.dbs"]
    mydb = "mypkg.splitbrain_db:MyDB"

and `splitbrain test --db mydb` loads it (see docs/plugins.md). The built-in DBs (raftnode,
etcd and the in-process null DB) are registered the same way in splitbrain's own
pyproject.toml, and also listed here so that a source checkout works before
`pip install -e .`.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any

from harness.core.protocols import DB, HarnessError

GROUP = "splitbrain.dbs"
BUILTIN = {
    "null": "harness.dbs.null:NullDB",
    "raftnode": "harness.dbs.raftnode:RaftnodeDB",
    "etcd": "harness.dbs.etcd:EtcdDB",
    "maelstrom": "harness.dbs.maelstrom:MaelstromDB",
    "pysyncobj": "harness.dbs.pysyncobj_db:PySyncObjDB",
}


def _entry_points() -> dict[str, EntryPoint]:
    found = {ep.name: ep for ep in entry_points(group=GROUP)}
    for name, target in BUILTIN.items():
        found.setdefault(name, EntryPoint(name=name, value=target, group=GROUP))
    return found


def available_dbs() -> list[str]:
    return sorted(_entry_points())


def load_db_factory(name: str) -> Any:
    """The callable registered as `name` (usually a DB class)."""
    eps = _entry_points()
    if name not in eps:
        raise HarnessError(f"unknown db {name!r} (available: {', '.join(sorted(eps))})")
    try:
        return eps[name].load()
    except (ImportError, AttributeError) as exc:
        raise HarnessError(f"db {name!r}: cannot load {eps[name].value} ({exc})") from exc


def load_db(name: str) -> DB:
    """A fresh DB instance for `name`; a clear HarnessError if unknown or malformed."""
    factory = load_db_factory(name)
    try:
        db = factory()
    except Exception as exc:
        raise HarnessError(f"db {name!r}: {exc}") from exc
    missing = [
        m
        for m in ("setup", "start", "kill", "teardown", "probe", "client", "log_files")
        if not callable(getattr(db, m, None))
    ]
    if missing:
        raise HarnessError(
            f"db {name!r}: {type(db).__name__} lacks {', '.join(missing)} (see docs/plugins.md)"
        )
    return db


__all__ = ["GROUP", "available_dbs", "load_db", "load_db_factory"]
