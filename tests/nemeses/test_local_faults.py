"""Every process-level fault on the `local` kind, against real stub-node processes:
the effect is observed (pid gone, state "T", clock offset in wall_clock_ns, WAL cut)
and healing restores it."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from harness.core.faketime import FAKETIME_LIB
from nemeses import make_fault
from nemeses.base import Claims, NemesisError
from nemeses.clock import ClockNemesis
from tests.conftest import requires_command
from tests.nemeses import checks
from tests.nemeses.fakedb import Cluster, Ctx

pytestmark = pytest.mark.process

requires_faketime = requires_command(FAKETIME_LIB, "faketime")


def test_kill_leader_then_restart(local_ctx):
    kill = make_fault("kill", random.Random(1))
    host = local_ctx.cluster.hosts["n1"]
    old_pid = local_ctx.db.pid("n1")
    done = kill.invoke("start-kill", {"target": "leader"}, local_ctx)
    assert done["nodes"] == ["n1"] and done["pids"] == {"n1": old_pid}
    assert not host.is_alive(old_pid)
    assert not local_ctx.db.probe("n1").reachable
    back = kill.invoke("stop-kill", None, local_ctx)
    assert back["nodes"] == ["n1"]
    assert local_ctx.db.probe("n1", timeout=5).reachable
    assert local_ctx.db.pid("n1") != old_pid


def test_kill_majority_and_heal_all_is_idempotent(local_ctx):
    kill = make_fault("kill", random.Random(2))
    done = kill.invoke("start-kill", {"target": "majority"}, local_ctx)
    assert len(done["nodes"]) == 2
    assert sum(local_ctx.db.is_running(n) for n in local_ctx.nodes) == 1
    kill.heal_all(local_ctx)
    kill.heal_all(local_ctx)
    assert all(local_ctx.db.is_running(n) for n in local_ctx.nodes)


def test_pause_stops_the_process_and_resume_restarts_it(local_ctx):
    pause = make_fault("pause", random.Random(3))
    done = pause.invoke("start-pause", {"target": "minority"}, local_ctx)
    (node,) = done["nodes"]
    pid = local_ctx.db.pid(node)
    assert local_ctx.cluster.hosts[node].process_state(pid) == "T"
    assert done["states"] == {node: "T"}
    assert not local_ctx.db.probe(node, timeout=0.5).reachable
    back = pause.invoke("stop-pause", None, local_ctx)
    assert back["nodes"] == [node]
    assert local_ctx.cluster.hosts[node].process_state(pid) != "T"
    assert local_ctx.db.probe(node, timeout=5).reachable


def test_kill_never_picks_a_paused_node(local_ctx):
    claims = Claims()
    pause = make_fault("pause", random.Random(4), claims)
    kill = make_fault("kill", random.Random(4), claims)
    paused = pause.invoke("start-pause", {"target": "one"}, local_ctx)["nodes"]
    killed = kill.invoke("start-kill", {"target": "all"}, local_ctx)["nodes"]
    assert set(killed) == set(local_ctx.nodes) - set(paused)
    pause.heal_all(local_ctx)
    kill.heal_all(local_ctx)
    assert all(local_ctx.db.probe(n, timeout=5).reachable for n in local_ctx.nodes)


@requires_faketime
def test_clock_bump_is_visible_and_reset_restores_it(local_ctx):
    checks.clock_bump_is_visible_and_reset(local_ctx)


@requires_faketime
def test_clock_strobe_flips_until_stopped(local_ctx):
    clock = make_fault("clock", random.Random(6))
    clock.invoke(
        "start-clock",
        {"mode": "strobe", "target": "n3", "delta_ms": 20000, "period_ms": 30, "duration_s": 60},
        local_ctx,
    )
    seen = set()
    for _ in range(200):
        offset = clock.observe(local_ctx, "n3")
        if offset is not None:
            seen.add(offset > 10000)
        if seen == {True, False}:
            break
    assert seen == {True, False}
    clock.heal_all(local_ctx)
    assert clock._strobe is None
    assert abs(clock.observe(local_ctx, "n3")) < 1000


def test_clock_without_faketime_is_a_clear_error(local_ctx):
    local_ctx.db.faketime = False
    with pytest.raises(NemesisError, match="libfaketime"):
        ClockNemesis(random.Random(0)).setup(local_ctx)


def test_disk_truncate_past_sync_recovers(local_ctx):
    checks.disk_truncate_past_sync_recovers(local_ctx)


def test_disk_flip_is_refused_then_restored(local_ctx):
    disk = make_fault("disk", random.Random(9))
    wal = Path(local_ctx.db.wal_path("n3"))
    done = disk.invoke("start-disk", {"target": "n3", "corrupt": "flip"}, local_ctx)
    assert "flipped_at" in done
    # The stub refuses a checksum mismatch in a complete record; a flip that hit the
    # newline of the last record looks like a torn tail and is cut instead.
    assert done["outcome"] in ("refused", "recovered")
    if done["outcome"] == "refused":
        assert not local_ctx.db.is_running("n3")
        back = disk.invoke("stop-disk", None, local_ctx)
        assert back["restored"] == ["n3"]
        assert not Path(str(wal) + ".sb-orig").exists()
    assert local_ctx.db.probe("n3", timeout=5).reachable


def test_disk_flip_in_synced_region_is_refused(local_ctx):
    """Everything the stub writes is synced, so the flip lands in the last 64 bytes;
    with a seed whose flip misses the final newline the stub must refuse (exit 3)."""
    outcomes = set()
    for seed in range(4):
        disk = make_fault("disk", random.Random(seed))
        done = disk.invoke("start-disk", {"target": "n2", "corrupt": "flip"}, local_ctx)
        outcomes.add(done["outcome"])
        disk.heal_all(local_ctx)
        assert local_ctx.db.probe("n2", timeout=5).reachable
        if "refused" in outcomes:
            break
    assert "refused" in outcomes


def test_partition_on_local_uses_the_db_hook(local_ctx):
    part = make_fault("partition", random.Random(10))
    part.setup(local_ctx)
    done = part.invoke("start-partition", {"topology": "leader"}, local_ctx)
    assert done["mechanism"] == "hook"
    assert local_ctx.db.blocked_peers("n1") == ["n2", "n3"]
    assert local_ctx.db.blocked_peers("n2") == ["n1"]
    part.invoke("stop-partition", None, local_ctx)
    assert all(local_ctx.db.blocked_peers(n) == [] for n in local_ctx.nodes)


def test_partition_on_local_without_hook_is_a_clear_error():
    without_hook = Ctx(Cluster({}, "local"), db=object(), nodes=[])  # no SupportsBlockPeers
    with pytest.raises(NemesisError, match="netns or ssh cluster kind"):
        make_fault("partition", random.Random(0)).setup(without_hook)


def test_packet_on_local_is_a_clear_error(local_ctx):
    with pytest.raises(NemesisError, match="netns or ssh"):
        make_fault("packet", random.Random(0)).setup(local_ctx)
