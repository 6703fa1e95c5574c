"""The combined nemesis: one Nemesis that routes each op to the fault family owning it.

Heal-all visits every family in HEAL_ORDER (resume paused processes before restarting
killed ones, restore damaged WALs, then the network, then clocks), keeps going when one
fails, and raises one error listing every failure at the end — a broken partition heal
must not leave nodes paused.
"""

from __future__ import annotations

from typing import Any

from harness.core.protocols import RunContext
from nemeses.base import NemesisError, log
from nemeses.fault import Fault

HEAL_ORDER = ("pause", "kill", "disk", "partition", "packet", "clock")


class CompositeNemesis:
    name = "combined"

    def __init__(self, faults: list[Fault]) -> None:
        order = {name: i for i, name in enumerate(HEAL_ORDER)}
        self.faults = sorted(faults, key=lambda f: order.get(f.fault, len(order)))
        self.by_f = {f: fault for fault in self.faults for f in fault.fs}
        self.fs: tuple[str, ...] = tuple(self.by_f)

    def setup(self, ctx: RunContext) -> None:
        for fault in self.faults:
            fault.setup(ctx)

    def invoke(self, f: str, value: Any, ctx: RunContext) -> Any:
        fault = self.by_f.get(f)
        if fault is None:
            raise NemesisError(f"no enabled fault handles {f!r} (enabled: {', '.join(self.fs)})")
        return fault.invoke(f, value, ctx)

    def heal_all(self, ctx: RunContext) -> None:
        self._each("heal", lambda fault: fault.heal_all(ctx), ctx)

    def teardown(self, ctx: RunContext) -> None:
        self._each("teardown", lambda fault: fault.teardown(ctx), ctx)

    def _each(self, what: str, action: Any, ctx: RunContext) -> None:
        errors = []
        for fault in self.faults:
            try:
                action(fault)
            except Exception as exc:  # noqa: BLE001 - finish the others, then report all
                log(ctx, f"{what} {fault.fault} failed: {exc}")
                errors.append(f"{fault.fault}: {exc}")
        if errors:
            raise NemesisError(f"{what} failed for " + "; ".join(errors))
