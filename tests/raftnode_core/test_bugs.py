"""Every planted bug breaks a named invariant in the simulation; the correct node, run
through the very same schedule (same seed, same faults), breaks none.

Targeted schedules (figure8, forget-vote, no-fsync, lease-read, stale-read,
follower-read, no-uptodate-check, bad-truncate) are short scripts of the shortest known failure;
the others search a small fixed set of seeds of the random fault schedule."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from raftnode.bugs import BUGS
from raftnode.sim import InvariantViolation, SimCluster, SimConfig, SimFaults, simulate
from tests.raftnode_core.helpers import sim_leader, sim_write

Scenario = Callable[[frozenset[str], int], SimCluster]


def _violation(scenario: Scenario, bugs: frozenset[str], seed: int) -> InvariantViolation | None:
    try:
        scenario(bugs, seed)
    except InvariantViolation as exc:
        return exc
    return None


# ---------------------------------------------------------------- targeted schedules
def figure8(bugs: frozenset[str], seed: int) -> SimCluster:
    """Raft figure 8 on five nodes, one entry per AppendEntries."""
    cl = SimCluster(SimConfig(nodes=5, seed=seed, bugs=bugs, max_append_entries=1))
    old = sim_leader(cl)
    assert cl.run_until(
        lambda: all(n.logic and n.logic.applied >= 1 for n in cl.nodes.values()), 100
    )
    b, *g = [n for n in cl.ids if n != old]
    # 1. The leader replicates A to one follower only, then crashes.
    cl.partition([[old, b], g])
    cl.submit(old, "write", "k", "A")
    cl.run(5)
    cl.crash(old)
    # 2. The other side elects x; x writes its no-op at A's index, alone, and crashes.
    assert cl.run_until(lambda: cl.leader() in g, 400)
    x = cl.leader()
    assert x is not None
    y, z = [n for n in g if n != x]
    cl.isolate(x)
    cl.crash(x)
    # 3. One holder of A wins with y, copies A (an older term) to y, and dies as soon as
    #    its commit index covers A — before its own no-op reaches y.
    cl.restart(old)
    cl.partition([[old, b, y], [x], [z]])
    assert cl.run_until(lambda: cl.leader() in (old, b), 400)
    lead = cl.leader()
    assert lead is not None
    cl.run_until(
        lambda: cl.nodes[lead].logic is not None and cl.nodes[lead].logic.raft.commit >= 2, 100
    )
    cl.isolate(lead)
    cl.crash(lead)
    # 4. x returns; with y and z it outvotes the holders of A and overwrites index 2.
    cl.restart(x)
    cl.partition([[x, y, z], [b], [lead]])
    cl.run(300)
    cl.settle()
    return cl


def forget_vote(bugs: frozenset[str], seed: int) -> SimCluster:
    """Two candidates in one term; the voter crashes after voting and votes again."""
    cl = SimCluster(SimConfig(nodes=3, seed=seed, bugs=bugs))
    cl.hold("n2", "n3")  # n2's vote request reaches n3 late
    cl.hold("n1", "n2")  # n2 does not hear of n1's victory
    cl.campaign("n1", pre=False)
    cl.campaign("n2", pre=False)
    assert cl.run_until(lambda: cl.leader() == "n1", 50)
    cl.crash("n3")
    cl.restart("n3")
    cl.release("n2", "n3")
    cl.run(5)
    cl.release("n1", "n2")
    cl.run(100)
    cl.settle()
    return cl


def no_fsync(bugs: frozenset[str], seed: int) -> SimCluster:
    """A write acknowledged by a majority that never reached their disks; power loss."""
    cl = SimCluster(SimConfig(nodes=3, seed=seed, bugs=bugs, fsync_every=100_000))
    lead = sim_leader(cl)
    f, z = [n for n in cl.ids if n != lead]
    cl.partition([[lead, f], [z]])
    sim_write(cl, lead, "acked")
    cl.crash(lead)
    cl.crash(f)
    cl.restart(lead)
    cl.restart(f)
    cl.heal()
    cl.run(200)
    cl.submit(cl.leader() or z, "write", "k", "later")
    cl.settle()
    return cl


def deposed_leader_read(bugs: frozenset[str], seed: int, freeze_clock: bool = True) -> SimCluster:
    """The leader is paused (and its clock stopped), the others elect a new leader and
    take a write; the old leader wakes up and is asked to read."""
    cl = SimCluster(SimConfig(nodes=3, seed=seed, bugs=bugs))
    lead = sim_leader(cl)
    cl.run(10)
    sim_write(cl, lead, "old")
    cl.pause(lead)
    if freeze_clock:
        cl.skew(lead, rate=0.0)
    others = [n for n in cl.ids if n != lead]
    new = sim_leader(cl, others)
    sim_write(cl, new, "new")
    cl.resume(lead)
    cl.skew(lead, rate=1.0)
    cl.submit(lead, "read", "k")
    cl.run(50)
    cl.settle()
    return cl


def lagging_follower_read(bugs: frozenset[str], seed: int) -> SimCluster:
    cl = SimCluster(SimConfig(nodes=3, seed=seed, bugs=bugs))
    lead = sim_leader(cl)
    sim_write(cl, lead, "old")
    cl.run(5)
    lag = [n for n in cl.ids if n != lead][0]
    cl.isolate(lag)
    sim_write(cl, lead, "new")
    cl.submit(lag, "read", "k")
    cl.run(50)
    cl.settle()
    return cl


def stale_voter(bugs: frozenset[str], seed: int) -> SimCluster:
    """A follower misses committed writes; with the leader gone it asks for votes."""
    cl = SimCluster(SimConfig(nodes=3, seed=seed, bugs=bugs))
    lead = sim_leader(cl)
    stale, other = [n for n in cl.ids if n != lead]
    cl.isolate(stale)
    for i in range(3):
        sim_write(cl, lead, f"v{i}")
    cl.crash(lead)
    cl.crash(other)
    cl.restart(other)  # forgets who led, so it listens to candidates at once
    cl.heal()
    cl.campaign(stale)
    cl.run(100)
    cl.restart(lead)
    cl.settle()
    return cl


def stale_duplicate_append(bugs: frozenset[str], seed: int) -> SimCluster:
    """A follower stores B and C (the third node cut off, so the leader commits them on the
    follower's word); before it learns that commit, a duplicate of the older AppendEntries
    that carried B arrives. Under bad-truncate it cuts C; the leader dies before it can
    notice, and the two nodes left elect a leader without the committed C."""
    cl = SimCluster(SimConfig(nodes=3, seed=seed, bugs=bugs, min_delay=1, max_delay=1))
    lead = sim_leader(cl)
    f, z = [n for n in cl.ids if n != lead]
    cl.partition([[lead, f], [z]])
    sim_write(cl, lead, "A")
    follower = cl.nodes[f].logic
    assert follower is not None
    a = follower.raft.log.last_index()
    cl.submit(lead, "write", "k", "B")
    c = cl.submit(lead, "write", "k", "C")  # its own AppendEntries, right behind B's
    carried_b = next(
        m for _, _, m in cl.net.queue if m.dst == f and m.entries and m.entries[0].index == a + 1
    )
    assert cl.run_until(lambda: follower.raft.log.last_index() == a + 2, 20)
    cl.hold(lead, f)  # the follower stored B and C but hears of no commit
    assert cl.run_until(lambda: c.complete is not None, 50) and c.ok
    cl.inject(carried_b)  # the network delivers its late duplicate
    cl.crash(lead)
    cl.heal()
    cl.run(200)
    cl.restart(lead)
    cl.settle()
    return cl


TARGETED: dict[str, tuple[Scenario, str]] = {
    "bad-truncate": (stale_duplicate_append, "leader-completeness"),
    "figure8": (figure8, "leader-completeness"),
    "forget-vote": (forget_vote, "election-safety"),
    "no-fsync": (no_fsync, "leader-completeness"),
    "lease-read": (deposed_leader_read, "stale-read"),
    "stale-read": (deposed_leader_read, "stale-read"),
    "follower-read": (lagging_follower_read, "stale-read"),
    "no-uptodate-check": (stale_voter, "leader-completeness"),
}


@pytest.mark.parametrize("bug", sorted(TARGETED))
def test_targeted_schedule_breaks_invariant_only_with_bug(bug: str) -> None:
    scenario, invariant = TARGETED[bug]
    seeds = range(3)
    found = [_violation(scenario, frozenset({bug}), s) for s in seeds]
    hits = [v for v in found if v is not None]
    assert hits, f"{bug}: no violation in seeds {list(seeds)}"
    assert hits[0].name == invariant, hits[0]
    for s in seeds:
        clean = _violation(scenario, frozenset(), s)
        assert clean is None, f"correct node broke {clean} on the {bug} schedule, seed {s}"


def test_lease_read_is_safe_while_clocks_are_right() -> None:
    """lease-read goes stale because of the clock fault, not because of the pause."""
    for s in range(3):
        assert (
            _violation(
                lambda b, seed: deposed_leader_read(b, seed, freeze_clock=False),
                frozenset({"lease-read"}),
                s,
            )
            is None
        )


# ---------------------------------------------------------------- seed searches
def random_faults(bugs: frozenset[str], seed: int) -> SimCluster:
    cfg = SimConfig(nodes=3, seed=seed, bugs=bugs, drop=0.05, duplicate=0.05, max_delay=4)
    return simulate(cfg, 800, faults=SimFaults(every=30))


SEARCHED: dict[str, set[str]] = {
    "ack-before-commit": {"acknowledged-write-lost", "stale-read"},
    "dup-apply": {"duplicate-apply"},
}


@pytest.mark.parametrize("bug", sorted(SEARCHED))
def test_random_fault_search_finds_bug(bug: str) -> None:
    for seed in range(30):
        exc = _violation(random_faults, frozenset({bug}), seed)
        if exc is not None:
            assert exc.name in SEARCHED[bug], exc
            assert _violation(random_faults, frozenset(), seed) is None
            return
    pytest.fail(f"{bug}: no violation in 30 seeds")


def test_every_bug_has_a_test() -> None:
    assert set(TARGETED) | set(SEARCHED) == set(BUGS)
