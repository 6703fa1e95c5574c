"""The store: one directory per test run, ``store/<test-name>/<YYYYmmddTHHMMSS>/``.

It holds test.yaml (the spec as run, seed included), history.jsonl, results.json,
report.html, controller.log and nodes/<node>/… (DESIGN.md "Store layout"), and
``store/latest`` points at the newest run. Why a class: the runner, the report and the
CLI all need the same paths, and the controller log handler must be removed again.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The run directory this process created last: where harness.cli_errors puts the
# traceback of an error that escapes a run (its controller.log).
last_created: Path | None = None


@dataclass
class RunDir:
    """Paths of one run's directory."""

    path: Path
    _handler: logging.Handler | None = field(default=None, repr=False)

    @property
    def history(self) -> Path:
        return self.path / "history.jsonl"

    @property
    def results(self) -> Path:
        return self.path / "results.json"

    @property
    def report(self) -> Path:
        return self.path / "report.html"

    @property
    def spec(self) -> Path:
        return self.path / "test.yaml"

    @property
    def controller_log(self) -> Path:
        return self.path / "controller.log"

    def node_dir(self, node: str) -> Path:
        path = self.path / "nodes" / node
        path.mkdir(parents=True, exist_ok=True)
        return path

    def attach_log(self, logger: logging.Logger) -> None:
        """Send ``logger`` (and its children) to controller.log until detach_log()."""
        handler = logging.FileHandler(self.controller_log, encoding="utf-8")
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        logger.addHandler(handler)
        if logger.level == logging.NOTSET or logger.level > logging.INFO:
            logger.setLevel(logging.INFO)
        self._handler = handler

    def detach_log(self, logger: logging.Logger) -> None:
        if self._handler is not None:
            logger.removeHandler(self._handler)
            self._handler.close()
            self._handler = None


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "test"


def create_run(store: str | Path, test_name: str, now: float | None = None) -> RunDir:
    """Make a fresh run directory (a suffix if two runs start in the same second) and
    point ``<store>/latest`` at it."""
    root = Path(store)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.localtime(now if now is not None else time.time()))
    parent = root / _safe(test_name)
    parent.mkdir(parents=True, exist_ok=True)
    path = parent / stamp
    suffix = 1
    while True:
        try:
            path.mkdir()
            break
        except FileExistsError:
            suffix += 1
            path = parent / f"{stamp}-{suffix}"
    (path / "nodes").mkdir()
    update_latest(root, path)
    global last_created
    last_created = path
    return RunDir(path)


def update_latest(root: Path, target: Path) -> None:
    """Atomically repoint ``root/latest`` (a relative symlink) at ``target``."""
    link = root / "latest"
    tmp = root / f".latest-{os.getpid()}"
    try:
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(os.path.relpath(target, root))
        os.replace(tmp, link)
    except OSError:
        tmp.unlink(missing_ok=True)
