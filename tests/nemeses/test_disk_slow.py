"""The disk fault's slow mode: start-disk with delay_ms / jitter_ms / leader_ms goes to
the DB's delay_disk hook for every target, stop-disk turns it off again, and the
parameters are validated like every other fault's (corrupt and slow do not mix)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from nemeses import make_fault
from nemeses.base import NemesisError
from nemeses.params import normalize
from tests.nemeses.fakedb import Cluster, Ctx


class _SlowDiskDB:
    """Records delay_disk calls; has a WAL hook too, as raftnode does."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any] | None]] = []

    def delay_disk(self, node: str, settings: dict[str, Any] | None) -> None:
        self.calls.append((node, None if settings is None else dict(settings)))

    def wal_path(self, node: str) -> str:
        return f"/nowhere/{node}/wal.log"

    def is_running(self, node: str) -> bool:
        return True


def _ctx(db: Any) -> Ctx:
    return Ctx(Cluster({}, "local"), db, ["n1", "n2", "n3"])


def test_slow_mode_goes_to_every_target_and_stop_turns_it_off():
    db = _SlowDiskDB()
    disk = make_fault("disk", random.Random(1))
    disk.setup(_ctx(db))
    done = disk.invoke("start-disk", {"target": "all", "delay_ms": 5, "leader_ms": 100}, _ctx(db))
    assert done["mode"] == "slow" and done["nodes"] == ["n1", "n2", "n3"]
    wanted = {"delay_ms": 5.0, "jitter_ms": 0.0, "leader_ms": 100.0}
    assert db.calls == [(n, wanted) for n in ["n1", "n2", "n3"]]
    db.calls.clear()
    back = disk.invoke("stop-disk", None, _ctx(db))
    assert back["slow_off"] == ["n1", "n2", "n3"] and back["restored"] == []
    assert db.calls == [(n, None) for n in ["n1", "n2", "n3"]]
    db.calls.clear()
    disk.heal_all(_ctx(db))  # nothing left to undo
    assert db.calls == []


def test_slow_mode_needs_the_hook_and_does_not_mix_with_corrupt():
    class WalOnly(_SlowDiskDB):
        delay_disk = None  # type: ignore[assignment]

    disk = make_fault("disk", random.Random(1))
    with pytest.raises(NemesisError, match="slow mode needs a DB with a delay_disk hook"):
        disk.invoke("start-disk", {"target": "n1", "jitter_ms": 10}, _ctx(WalOnly()))
    with pytest.raises(NemesisError, match="separate modes"):
        disk.invoke("start-disk", {"corrupt": "flip", "delay_ms": 10}, _ctx(_SlowDiskDB()))


def test_params_validate_the_slow_fields():
    value = normalize("disk", {"target": "all", "leader_ms": 150}, "schedule[0].value")
    assert value == {"target": "all", "leader_ms": 150.0}
    with pytest.raises(NemesisError, match=r"schedule\[0\]\.value\.delay_ms: expected a number"):
        normalize("disk", {"delay_ms": -3}, "schedule[0].value")
    with pytest.raises(NemesisError, match="separate modes"):
        normalize("disk", {"corrupt": "truncate", "jitter_ms": 5}, "schedule[0].value")
