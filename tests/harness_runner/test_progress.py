"""The progress line: counts, rate, elapsed against the limit, active faults."""

from __future__ import annotations

import io
import time

from rich.console import Console

from harness.progress import ProgressDisplay, format_faults, render_status
from harness.recorder import Counters
from harness.runner import Status


def test_render_status_shows_everything() -> None:
    counters = Counters(ok=7, fail=2, info=1, active_faults={"kill": {"nodes": ["n1", "n3"]}})
    line = render_status(Status("workload", 30.0, 60.0, counters), 123.4).plain
    assert line.startswith("workload")
    for part in ("30.0/60 s", "123 ops/s", "ok 7", "fail 2", "info 1", "faults: kill(n1,n3)"):
        assert part in line
    assert "█" * 10 + "░" * 10 in line  # half way


def test_format_faults() -> None:
    assert format_faults({}) == "none"
    assert format_faults({"partition": {"grudge": {}}, "pause": ["n2"]}) == "partition pause(n2)"


def test_plain_output_when_not_a_terminal(monkeypatch) -> None:
    monkeypatch.setattr("harness.progress.PLAIN_PERIOD_S", 0.05)
    out = io.StringIO()
    counters = Counters(ok=3)
    with ProgressDisplay(lambda: Status("workload", 1.0, 10.0, counters), Console(file=out)):
        deadline = time.monotonic() + 10
        while "ok 3" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.02)
    assert "ok 3" in out.getvalue()
    assert "\x1b[" not in out.getvalue()  # no terminal escapes in logs
