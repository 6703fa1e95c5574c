"""Generators: every combinator's semantics, and reproducibility (same seed, same ops
and faults, whatever the interleaving)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.core import generators as g
from harness.core.generators import OpRequest, Sleep


def op(f: str, value: object = None) -> OpRequest:
    return OpRequest(f, value)


def counter_gen(name: str = "x") -> g.Generator:
    """A leaf whose values come from the process's random stream."""
    return g.fn(lambda rng, p: OpRequest(name, rng.randrange(1_000_000)))


def fs(items: list[tuple[object, float, OpRequest]]) -> list[str]:
    return [o.f for _, _, o in items]


def test_fn_uses_per_process_streams() -> None:
    gen = counter_gen().bind(1)
    a = [gen.next(0, 0.0).value for _ in range(5)]
    gen2 = counter_gen().bind(1)
    # Interleave another process: process 0's values must not change.
    b = []
    for _ in range(5):
        gen2.next(1, 0.0)
        b.append(gen2.next(0, 0.0).value)
    assert a == b
    other = counter_gen().bind(2)
    assert a != [other.next(0, 0.0).value for _ in range(5)]


def test_fn_accepts_dicts_and_rejects_junk() -> None:
    gen = g.fn(lambda rng, p: {"f": "write", "key": "k", "value": 3, "final": True})
    assert gen.next(0, 0.0) == OpRequest("write", 3, "k", {"final": True})
    bad = g.fn(lambda rng, p: 42)
    with pytest.raises(TypeError):
        bad.next(0, 0.0)


def test_once_repeat_seq() -> None:
    once = g.once(op("a"))
    assert once.next(0, 0.0) == op("a")
    assert once.next(1, 0.0) is None
    rep = g.repeat(op("b"), times=3)
    assert [rep.next(p, 0.0) for p in (0, 1, 2, 0)] == [op("b")] * 3 + [None]
    sq = g.seq([op("1"), op("2")])
    assert [sq.next(0, 0.0), sq.next(1, 0.0), sq.next(0, 0.0)] == [op("1"), op("2"), None]
    assert g.once(counter_gen()).next(0, 0.0).f == "x"


def test_sleep_is_per_process() -> None:
    s = g.sleep(2.0)
    assert s.next(0, 10.0) == Sleep(2.0)
    assert s.next(1, 11.0) == Sleep(2.0)
    assert s.next(0, 11.5) == Sleep(0.5)
    assert s.next(0, 12.0) is None
    assert isinstance(s.next(1, 12.5), Sleep)


def test_limit_counts_all_processes() -> None:
    gen = g.limit(5, g.repeat(op("a")))
    got = fs(g.drain(gen, [0, 1, 2]))
    assert got == ["a"] * 5


def test_time_limit_from_first_ask_and_caps_sleeps() -> None:
    gen = g.time_limit(3.0, g.phases(g.once(op("a")), g.sleep(10.0)))
    assert gen.next(0, 5.0) == op("a")
    assert gen.next(0, 6.0) == Sleep(2.0)  # the inner 10 s sleep is cut at the deadline
    assert gen.next(0, 8.0) is None
    items = g.drain(g.time_limit(1.0, g.repeat(op("a"))), [0], max_ops=50)
    assert len(items) == 50  # ops are instant on the virtual clock: limit by count here
    timed = g.drain(g.time_limit(1.0, g.stagger(0.1, g.repeat(op("a")))), [0, 1])
    assert timed and all(t < 1.0 for _, t, _ in timed)


def test_stagger_rate_is_about_one_per_dt() -> None:
    items = g.drain(g.time_limit(100.0, g.stagger(0.5, g.repeat(op("a")))).bind(3), [0, 1, 2, 3])
    # ~200 expected; uniform gaps in [0, 1) average 0.5 s.
    assert 150 <= len(items) <= 250
    times = [t for _, t, _ in items]
    assert times == sorted(times)


def test_rate_is_stagger_of_inverse() -> None:
    items = g.drain(g.time_limit(10.0, g.rate(20, g.repeat(op("a")))).bind(1), [0, 1])
    assert 150 <= len(items) <= 250


def test_mix_draws_from_all_children_with_weights() -> None:
    gen = g.mix(g.repeat(op("a")), g.repeat(op("b")), weights=[3, 1]).bind(5)
    got = fs(g.drain(gen, [0, 1], max_ops=4000))
    share = got.count("a") / len(got)
    assert 0.7 < share < 0.8


def test_mix_drops_exhausted_children_and_keeps_choice_over_sleeps() -> None:
    gen = g.mix(g.once(op("a")), g.repeat(op("b"), times=3))
    assert sorted(fs(g.drain(gen.bind(1), [0]))) == ["a", "b", "b", "b"]
    sleepy = g.mix(g.phases(g.sleep(1.0), g.once(op("late"))), g.repeat(op("b"), times=1)).bind(9)
    got = fs(g.drain(sleepy, [0]))
    assert sorted(got) == ["b", "late"]
    with pytest.raises(ValueError):
        g.mix()


def test_any_of_and_routing() -> None:
    root = g.clients_and_nemesis(g.repeat(op("c"), times=4), g.seq([op("start"), op("stop")]))
    items = g.drain(root, [0, 1, "nemesis"])
    assert sorted(o.f for p, _, o in items if p == "nemesis") == ["start", "stop"]
    assert [o.f for p, _, o in items if p != "nemesis"] == ["c"] * 4
    only_clients = g.clients_and_nemesis(g.repeat(op("c"), times=1), None)
    assert only_clients.next("nemesis", 0.0) is None
    assert g.nemesis(g.repeat(op("n"))).next(3, 0.0) is None
    mixed = g.any_of(g.sleep(2.0), g.sleep(1.0))
    assert mixed.next(0, 0.0) == Sleep(1.0)


def test_phases_barrier_waits_for_every_process() -> None:
    gen = g.phases(g.each_process(g.repeat(op("a"), times=2)), g.once(op("b")))
    assert gen.next(0, 0.0) == op("a")
    assert gen.next(1, 0.0) == op("a")
    assert gen.next(0, 0.0) == op("a")
    # process 0 is done with phase 0 but process 1 is not: barrier.
    assert isinstance(gen.next(0, 0.0), Sleep)
    assert gen.next(1, 0.0) == op("a")
    assert gen.next(1, 0.0) == op("b")
    assert gen.next(0, 0.0) is None


def test_phases_retire_passes_position_to_replacement() -> None:
    gen = g.phases(g.each_process(g.repeat(op("a"), times=1)), g.repeat(op("b")))
    assert gen.next(0, 0.0) == op("a")
    assert gen.next(1, 0.0) == op("a")
    assert isinstance(gen.next(0, 0.0), Sleep)  # waiting for process 1
    gen.retire(1, 3)  # process 1's op ended info: it never asks again
    assert gen.next(3, 0.0) == op("a")  # 3 takes over 1's place in phase 0 (a fresh copy)
    assert isinstance(gen.next(0, 0.0), Sleep)  # still waiting, now for 3 and not for 1
    assert gen.next(3, 0.0) == op("b")
    assert gen.next(0, 0.0) == op("b")


def test_cycle_restarts_with_fresh_values() -> None:
    gen = g.cycle(g.limit(2, counter_gen())).bind(4)
    values = [o.value for _, _, o in g.drain(gen, ["nemesis"], max_ops=6)]
    assert len(values) == 6
    assert values[:2] != values[2:4]  # rounds share the random stream, so they differ
    assert fs(g.drain(g.cycle(g.once(op("a")), times=3), [0])) == ["a"] * 3
    assert g.drain(g.cycle(g.seq([])), [0]) == []  # an empty round does not spin


def test_flip_flop_alternates() -> None:
    gen = g.flip_flop(g.repeat(op("start")), g.repeat(op("stop"), times=2))
    assert fs(g.drain(gen, ["nemesis"])) == ["start", "stop", "start", "stop", "start"]


def test_each_process_gives_private_copies() -> None:
    gen = g.each_process(g.limit(2, g.repeat(op("a"))))
    items = g.drain(gen, [0, 1, 2])
    assert sorted(p for p, _, _ in items) == [0, 0, 1, 1, 2, 2]


def test_map_and_mark_final() -> None:
    gen = g.mark_final(g.repeat(op("read"), times=1))
    assert gen.next(0, 0.0).extra == {"final": True}
    upper = g.map_ops(lambda o: OpRequest(o.f.upper()), g.once(op("w")))
    assert upper.next(0, 0.0) == OpRequest("W")


def test_unbound_tree_behaves_as_seed_zero() -> None:
    a = [o.value for _, _, o in g.drain(g.limit(10, counter_gen()), [0])]
    b = [o.value for _, _, o in g.drain(g.limit(10, counter_gen()).bind(0), [0])]
    assert a == b


def schedule_tree() -> g.Generator:
    """A realistic root: mixed client ops under a rate, a flip-flop fault schedule."""
    workload = g.stagger(
        0.01,
        g.mix(
            g.fn(lambda r, p: OpRequest("read", None, f"k{r.randrange(3)}")),
            g.fn(lambda r, p: OpRequest("write", r.randrange(5), f"k{r.randrange(3)}")),
            g.fn(lambda r, p: OpRequest("cas", [r.randrange(5), r.randrange(5)], "k0")),
        ),
    )
    start = g.phases(
        g.sleep(1.0),
        g.once(g.fn(lambda r, p: OpRequest("start-partition", r.choice(["one", "halves"])))),
    )
    stop = g.phases(g.sleep(0.5), g.once(OpRequest("stop-partition")))
    flip = g.flip_flop(g.cycle(start), g.cycle(stop))
    return g.time_limit(20.0, g.clients_and_nemesis(workload, flip))


def per_process(items: list[tuple[object, float, OpRequest]]) -> dict[object, list[OpRequest]]:
    out: dict[object, list[OpRequest]] = {}
    for process, _, request in items:
        out.setdefault(process, []).append(request)
    return out


def test_same_seed_same_schedule_and_different_seed_differs() -> None:
    one = g.drain(schedule_tree().bind(7), [0, 1, 2, "nemesis"])
    two = g.drain(schedule_tree().bind(7), [0, 1, 2, "nemesis"])
    assert one == two
    other = g.drain(schedule_tree().bind(8), [0, 1, 2, "nemesis"])
    assert per_process(one) != per_process(other)
    nemesis_ops = per_process(one)["nemesis"]
    assert [o.f for o in nemesis_ops[:4]] == [
        "start-partition",
        "stop-partition",
        "start-partition",
        "stop-partition",
    ]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), order_seed=st.integers(0, 2**31))
def test_per_process_ops_do_not_depend_on_interleaving(seed: int, order_seed: int) -> None:
    """Ask in a random order with random clocks: each process still gets the same op
    sequence (compared on its prefix, as timing decides how many ops fit)."""
    reference = per_process(
        g.drain(g.time_limit(1e9, schedule_tree()).bind(seed), [0, 1, 2], max_ops=300)
    )
    gen = g.time_limit(1e9, schedule_tree()).bind(seed)
    order = random.Random(order_seed)
    now = 0.0
    seen: dict[object, list[OpRequest]] = {0: [], 1: [], 2: []}
    for _ in range(600):
        process = order.choice([0, 1, 2])
        now += order.uniform(0, 0.02)
        answer = gen.next(process, now)
        if isinstance(answer, OpRequest):
            seen[process].append(answer)
    for process, ops in seen.items():
        assert ops == reference[process][: len(ops)] or len(ops) > len(reference[process])
        assert ops[: len(reference[process])] == reference[process][: len(ops)]
