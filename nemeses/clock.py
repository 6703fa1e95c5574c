"""Clock faults through libfaketime: bump, strobe, skew, reset.

The DB starts each node (when options["faketime"] is true) with libfaketime preloaded,
FAKETIME_TIMESTAMP_FILE=db.clock_file(node), FAKETIME_NO_CACHE=1 and
FAKETIME_DONT_FAKE_MONOTONIC=1: the node's wall clock (time.time) is offset by whatever
"+1.5"-style value that file holds, re-read on every call, while its monotonic timers
stay true. This nemesis rewrites the file through Host.write_file and checks the
offset in the node's GET /status wall_clock_ns against the controller's clock.

Modes of start-clock: `bump` (jump by offset_ms from the current offset), `skew` (set
offset_ms), `strobe` (flip between the current offset and current + delta_ms every
period_ms for duration_s, in a background thread). stop-clock resets every offset to 0.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from harness.core.protocols import RunContext, SupportsClockFile
from nemeses.base import NemesisError, host_of, log
from nemeses.fault import Fault, with_note

MODES = ("bump", "skew", "strobe")
# How far the observed offset may stray from the one written: request latency on a
# loaded 2-core machine, not clock precision, dominates.
TOLERANCE_MS = 400.0


def offset_text(offset_ms: float) -> str:
    """libfaketime's relative offset syntax: "+1.500000" seconds (sign always present)."""
    return f"{offset_ms / 1000.0:+.6f}\n"


def requires_faketime(names: list[str]) -> bool:
    """Whether the DB must start nodes under libfaketime for these faults."""
    return "clock" in names


class ClockNemesis(Fault):
    fault = "clock"

    def __init__(self, *args: Any, verify: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.verify = verify
        self.offsets: dict[str, float] = {}
        self._strobe_stop = threading.Event()
        self._strobe: threading.Thread | None = None
        self._lock = threading.Lock()

    def _file(self, ctx: RunContext, node: str) -> str:
        path = ctx.db.clock_file(node) if isinstance(ctx.db, SupportsClockFile) else None
        if not path:
            raise NemesisError(
                f"clock: node {node} was not started under libfaketime "
                "(the DB needs a clock_file hook and options['faketime']=True)"
            )
        return path

    def setup(self, ctx: RunContext) -> None:
        for node in ctx.nodes:
            self._file(ctx, node)

    def _write(self, ctx: RunContext, node: str, offset_ms: float) -> None:
        with self._lock:
            host_of(ctx, node).write_file(self._file(ctx, node), offset_text(offset_ms).encode())
            self.offsets[node] = offset_ms

    def observe(self, ctx: RunContext, node: str, timeout: float = 2.0) -> float | None:
        """The node's wall clock minus the controller's, in ms (None if it did not answer)."""
        before = time.time_ns()
        probe = ctx.db.probe(node, timeout=timeout)
        after = time.time_ns()
        if not probe.reachable or probe.clock_ns is None:
            return None
        return (probe.clock_ns - (before + after) / 2) / 1e6

    def _check_all(self, ctx: RunContext, want: dict[str, float]) -> dict[str, float | str | None]:
        """Check every node in parallel. A node another fault holds (paused, killed) is
        skipped: it cannot answer, and waiting for it would delay the schedule."""
        held = self.claims.owners
        todo = [n for n in want if n not in held]
        out: dict[str, float | str | None] = {n: f"skipped ({held[n]})" for n in want if n in held}
        if todo:
            with ThreadPoolExecutor(len(todo)) as pool:
                out.update(
                    zip(todo, pool.map(lambda n: self._check(ctx, n, want[n]), todo), strict=True)
                )
        return {n: out[n] for n in want}

    def _check(self, ctx: RunContext, node: str, want_ms: float) -> float | None:
        """Observed offset (ms); raises when a reachable node shows a different one."""
        deadline = time.monotonic() + 10.0
        while True:
            seen = self.observe(ctx, node)
            if seen is None or abs(seen - want_ms) <= TOLERANCE_MS:
                return None if seen is None else round(seen, 1)
            if time.monotonic() >= deadline:
                raise NemesisError(
                    f"clock on {node}: wrote {want_ms:+.0f} ms but the node shows {seen:+.0f} ms"
                )
            time.sleep(0.1)

    def start(self, value: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
        mode = value.get("mode", "bump")
        if mode not in MODES:
            raise NemesisError(f"clock: unknown mode {mode!r} (expected one of {', '.join(MODES)})")
        self._stop_strobe()
        resolved = self.pick(value, ctx, list(ctx.nodes))
        nodes = resolved.nodes
        result: dict[str, Any] = {
            "mode": mode,
            "target": value.get("target", "one"),
            "nodes": nodes,
        }
        if mode == "strobe":
            delta = float(value.get("delta_ms", 200))
            period = float(value.get("period_ms", 50))
            duration = float(value.get("duration_s", 5))
            base = {n: self.offsets.get(n, 0.0) for n in nodes}
            self._start_strobe(ctx, base, delta, period, duration)
            result.update(delta_ms=delta, period_ms=period, duration_s=duration, base_ms=base)
            return with_note(result, resolved)
        amount = float(value.get("offset_ms", 1000))
        applied = {}
        for node in nodes:
            applied[node] = self.offsets.get(node, 0.0) + amount if mode == "bump" else amount
            self._write(ctx, node, applied[node])
        result["offsets_ms"] = applied
        if self.verify:
            result["observed_ms"] = self._check_all(ctx, applied)
        log(ctx, f"clock {mode}: {applied}")
        return with_note(result, resolved)

    def stop(self, value: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
        """Reset: stop strobing and set every node's offset to 0."""
        self._stop_strobe()
        reset = sorted(ctx.nodes)
        for node in reset:
            self._write(ctx, node, 0.0)
        result: dict[str, Any] = {"mode": "reset", "nodes": reset}
        if self.verify:
            result["observed_ms"] = self._check_all(ctx, dict.fromkeys(reset, 0.0))
        return result

    def heal_all(self, ctx: RunContext) -> None:
        self._stop_strobe()
        for node in ctx.nodes:
            self._write(ctx, node, 0.0)

    def teardown(self, ctx: RunContext) -> None:
        self._stop_strobe()

    # -- strobe ---------------------------------------------------------------------
    def _start_strobe(
        self, ctx: RunContext, base: dict[str, float], delta: float, period: float, duration: float
    ) -> None:
        self._strobe_stop = threading.Event()
        stop = self._strobe_stop

        def run() -> None:
            flipped = False
            end = time.monotonic() + duration
            while not stop.is_set() and time.monotonic() < end:
                flipped = not flipped
                for node, offset in base.items():
                    try:
                        self._write(ctx, node, offset + (delta if flipped else 0.0))
                    except Exception as exc:  # noqa: BLE001 - keep strobing the others
                        log(ctx, f"clock strobe on {node}: {exc}")
                stop.wait(period / 1000.0)
            for node, offset in base.items():
                try:
                    self._write(ctx, node, offset)
                except Exception:  # noqa: BLE001
                    pass

        self._strobe = threading.Thread(target=run, name="clock-strobe", daemon=True)
        self._strobe.start()

    def _stop_strobe(self) -> None:
        self._strobe_stop.set()
        if self._strobe is not None:
            self._strobe.join(timeout=10)
            self._strobe = None
