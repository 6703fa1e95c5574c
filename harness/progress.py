"""The live progress line of `splitbrain test` (rich): phase, elapsed time against the
time limit, ops/s, ok/fail/info counts and the faults active right now.

Why polling: the runner exposes a cheap ``status()`` snapshot; a display thread reads
it a few times a second, so recording never waits on the terminal.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.text import Text

from harness.runner import Status

PLAIN_PERIOD_S = 10.0


def format_faults(active: dict[str, Any]) -> str:
    if not active:
        return "none"
    parts = []
    for name, value in sorted(active.items()):
        if isinstance(value, dict):  # a nemesis completion: {"nodes": [...], ...}
            value = value.get("nodes", "")
        shown = value if isinstance(value, str) else ""
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            shown = ",".join(value)
        parts.append(f"{name}({shown})" if shown else name)
    return " ".join(parts)


def render_status(status: Status, rate: float) -> Text:
    """One line: ``workload  12.3/60 s ▕████░░░▏  812 ops/s  ok 9000 fail 12 info 3  faults: partition``."""
    c = status.counters
    width = 20
    done = min(status.elapsed_s / status.time_limit, 1.0) if status.time_limit else 0.0
    bar = "█" * int(done * width) + "░" * (width - int(done * width))
    text = Text()
    text.append(f"{status.phase:<12} ", style="bold")
    text.append(f"{status.elapsed_s:6.1f}/{status.time_limit:g} s {bar} ")
    text.append(f"{rate:7.0f} ops/s  ")
    text.append(f"ok {c.ok} ", style="green")
    text.append(f"fail {c.fail} ", style="red")
    text.append(f"info {c.info}  ", style="yellow")
    text.append(f"faults: {format_faults(c.active_faults)}", style="magenta")
    return text


class ProgressDisplay:
    """Renders ``status()`` until stopped; a context manager."""

    def __init__(
        self, status: Callable[[], Status], console: Console | None = None, period_s: float = 0.5
    ):
        self.status = status
        self.console = console or Console(stderr=True)
        self.period_s = period_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last: tuple[float, int] = (time.monotonic(), 0)

    def _rate(self, status: Status) -> float:
        now = time.monotonic()
        then, count = self._last
        completed = status.counters.completed
        self._last = (now, completed)
        return (completed - count) / (now - then) if now > then else 0.0

    def _loop(self) -> None:
        with Live(console=self.console, refresh_per_second=4, transient=False) as live:
            while not self._stop.wait(self.period_s):
                status = self.status()
                live.update(render_status(status, self._rate(status)))
            status = self.status()
            live.update(render_status(status, self._rate(status)))

    def _plain_loop(self) -> None:
        """Not a terminal (CI logs): a plain line every PLAIN_PERIOD_S, no animation."""
        while not self._stop.wait(PLAIN_PERIOD_S):
            status = self.status()
            line = render_status(status, self._rate(status)).plain
            self.console.file.write(line + "\n")  # unwrapped: one line per report in CI logs
            self.console.file.flush()

    def __enter__(self) -> ProgressDisplay:
        target = self._loop if self.console.is_terminal else self._plain_loop
        self._thread = threading.Thread(target=target, name="progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
