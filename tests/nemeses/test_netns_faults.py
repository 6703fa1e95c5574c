"""Network faults in a real namespace lab: a blocked pair cannot connect, a healed one
can; packet-loss rules are in place and gone after healing. Also kill and pause on
netns hosts (same code path as local, different Host)."""

from __future__ import annotations

import random

import pytest

from harness.core.faketime import FAKETIME_LIB
from nemeses import make_fault, net
from nemeses.base import NemesisError
from tests.conftest import requires_command, requires_netns
from tests.nemeses import checks

pytestmark = [requires_netns, pytest.mark.root]
requires_iptables = requires_command("iptables", "iptables")
requires_faketime = requires_command(FAKETIME_LIB, "faketime")


def blocked(ctx) -> dict[str, set[str]]:
    return net.probe_all(ctx.cluster.hosts)


@pytest.mark.parametrize(
    "mechanism", ["blackhole", pytest.param("iptables", marks=requires_iptables)]
)
def test_partition_isolating_the_leader_really_cuts_it_off(netns_ctx, mechanism):
    part = make_fault("partition", random.Random(1), mechanism=mechanism)
    part.setup(netns_ctx)
    assert blocked(netns_ctx) == {"n1": set(), "n2": set(), "n3": set()}
    done = part.invoke("start-partition", {"topology": "leader"}, netns_ctx)
    assert done["grudge"] == {"n1": ["n2", "n3"], "n2": ["n1"], "n3": ["n1"]}
    assert done["verified"] is True
    assert blocked(netns_ctx) == {"n1": {"n2", "n3"}, "n2": {"n1"}, "n3": {"n1"}}
    # The controller still reaches every node (only peer links are cut).
    assert all(netns_ctx.db.probe(n, timeout=5).reachable for n in netns_ctx.nodes)
    healed = part.invoke("stop-partition", None, netns_ctx)
    assert healed["verified"] is True
    assert blocked(netns_ctx) == {"n1": set(), "n2": set(), "n3": set()}
    part.heal_all(netns_ctx)  # idempotent: nothing left to remove
    assert blocked(netns_ctx) == {"n1": set(), "n2": set(), "n3": set()}


def test_partition_grudge_and_ring_and_heal_all_removes_leftovers(netns_ctx):
    part = make_fault("partition", random.Random(2))
    done = part.invoke(
        "start-partition", {"topology": "grudge", "grudge": {"n2": ["n3"]}}, netns_ctx
    )
    assert done["grudge"] == {"n1": [], "n2": ["n3"], "n3": ["n2"]}
    assert blocked(netns_ctx)["n2"] == {"n3"}
    done = part.invoke("start-partition", {"topology": "majorities-ring"}, netns_ctx)
    assert {n: sorted(b) for n, b in blocked(netns_ctx).items()} == done["grudge"]
    # A route left over by a crashed controller is removed by heal_all as well.
    hosts = netns_ctx.cluster.hosts
    net.add_blackholes(hosts["n1"], [hosts["n3"].address])
    fresh = make_fault("partition", random.Random(3))
    fresh.heal_all(netns_ctx)
    assert blocked(netns_ctx) == {"n1": set(), "n2": set(), "n3": set()}


@requires_iptables
def test_packet_loss_rules_drop_and_heal(netns_ctx):
    checks.packet_loss_drops_and_heals(netns_ctx)


@requires_faketime
def test_clock_bump_inside_a_namespace(netns_faketime_ctx):
    checks.clock_bump_is_visible_and_reset(netns_faketime_ctx)


def test_disk_truncate_on_a_netns_host(netns_ctx):
    checks.disk_truncate_past_sync_recovers(netns_ctx)


def test_packet_probability_is_checked(netns_ctx):
    with pytest.raises(NemesisError, match="probability"):
        make_fault("packet", random.Random(0)).invoke("start-packet", {"probability": 0}, netns_ctx)


def test_kill_and_pause_on_netns_hosts(netns_ctx):
    kill = make_fault("kill", random.Random(5))
    pause = make_fault("pause", random.Random(5), kill.claims)
    pid = netns_ctx.db.pid("n3")
    kill.invoke("start-kill", {"target": "n3"}, netns_ctx)
    assert not netns_ctx.cluster.hosts["n3"].is_alive(pid)
    paused = pause.invoke("start-pause", {"target": "all"}, netns_ctx)
    assert paused["nodes"] == ["n1", "n2"] and set(paused["states"].values()) == {"T"}
    pause.heal_all(netns_ctx)
    kill.heal_all(netns_ctx)
    assert all(netns_ctx.db.probe(n, timeout=5).reachable for n in netns_ctx.nodes)
