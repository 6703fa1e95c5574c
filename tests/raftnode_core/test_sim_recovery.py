"""Recovery the leader owes a follower that lost its whole disk (issue 11, item 3).

A wiped follower answers every heartbeat with a rejection whose hint says its log is empty,
at an index the leader already counts as matched. Treating that as a stale rejection left
the node at commit 0 for ever, so the cluster had one replica fewer than it looked and the
next crash made it unwritable. The leader must reset its progress for that follower and
resend the log (or the snapshot, when the log is compacted)."""

from __future__ import annotations

import pytest

from raftnode.sim import SimCluster, SimConfig
from tests.raftnode_core.helpers import sim_leader, sim_write


@pytest.mark.parametrize("snapshot_every", [1000, 10], ids=["entries", "install-snapshot"])
def test_wiped_follower_is_caught_up_and_counts_for_a_majority(snapshot_every: int) -> None:
    cl = SimCluster(SimConfig(nodes=3, seed=3, snapshot_every=snapshot_every))
    lead = sim_leader(cl)
    for i in range(30):
        sim_write(cl, lead, f"v{i}", key=f"k{i % 4}")
    wiped, other = [n for n in cl.ids if n != lead]
    leader_logic = cl.nodes[lead].logic
    assert leader_logic is not None
    assert cl.run_until(lambda: cl.nodes[wiped].logic.applied >= leader_logic.raft.commit, 200)

    cl.wipe(wiped)
    cl.restart(wiped)
    target = leader_logic.raft.commit

    def caught_up() -> bool:
        logic = cl.nodes[wiped].logic
        return logic is not None and logic.applied >= target

    assert cl.run_until(caught_up, 300), cl.nodes[wiped].logic.status()
    if snapshot_every < 30:
        assert cl.nodes[wiped].logic.raft.log.offset > 0  # it came back through a snapshot

    # With the other follower down, leader + the re-synced node are the majority.
    cl.crash(other)
    sim_write(cl, lead, "after", key="k0")  # acknowledged: committed on lead + wiped
    assert cl.run_until(lambda: cl.nodes[wiped].logic.kv.read("k0") == "after", 100)
