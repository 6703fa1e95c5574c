"""The combined nemesis routes ops by name and heals every family even when one fails."""

from __future__ import annotations

import random

import pytest

from nemeses.base import NemesisError
from nemeses.composite import CompositeNemesis
from nemeses.fault import Fault
from tests.nemeses.fakedb import Ctx

NO_CLUSTER = Ctx(cluster=None, db=None, nodes=[])


class Recording(Fault):
    def __init__(self, fault: str, log: list[str], fail_heal: bool = False) -> None:
        self.fault = fault
        super().__init__(random.Random(0))
        self.log = log
        self.fail_heal = fail_heal

    def start(self, value, ctx):
        self.log.append(f"start {self.fault} {value}")
        return {"did": self.fault}

    def stop(self, value, ctx):
        self.log.append(f"stop {self.fault}")
        return {}

    def heal_all(self, ctx):
        self.log.append(f"heal {self.fault}")
        if self.fail_heal:
            raise RuntimeError("boom")


def test_routes_by_op_name_and_rejects_unknown_ops():
    log: list[str] = []
    nemesis = CompositeNemesis([Recording("kill", log), Recording("partition", log)])
    assert nemesis.invoke("start-partition", {"topology": "one"}, None) == {"did": "partition"}
    nemesis.invoke("stop-kill", None, None)
    assert log == ["start partition {'topology': 'one'}", "stop kill"]
    with pytest.raises(NemesisError, match="no enabled fault handles 'start-clock'"):
        nemesis.invoke("start-clock", {}, None)


def test_heal_all_visits_every_family_in_order_and_reports_failures():
    log: list[str] = []
    faults = [
        Recording("clock", log),
        Recording("partition", log, fail_heal=True),
        Recording("pause", log),
    ]
    nemesis = CompositeNemesis(faults)
    with pytest.raises(NemesisError, match="heal failed for partition: boom"):
        nemesis.heal_all(NO_CLUSTER)
    assert log == ["heal pause", "heal partition", "heal clock"]
