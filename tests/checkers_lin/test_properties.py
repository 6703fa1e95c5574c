"""Property tests: generated histories against the checker and a brute-force oracle."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checkers.lin_gen import SPECS, corrupt_one_read, generate
from checkers.linearizability import check
from checkers.models import get_model

from .helpers import brute_force, prepared

MODEL_NAMES = sorted(SPECS)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(
    model=st.sampled_from(MODEL_NAMES),
    seed=st.integers(0, 10**6),
    n_ops=st.integers(1, 120),
    keys=st.integers(1, 3),
    concurrency=st.integers(1, 6),
    info=st.sampled_from([0.0, 0.02, 0.1]),
)
def test_histories_from_a_sequential_run_are_linearizable(
    model, seed, n_ops, keys, concurrency, info
):
    history = generate(
        model, n_ops=n_ops, keys=keys, concurrency=concurrency, info_rate=info, seed=seed
    )
    result = check(history, model, budget_s=60)
    assert result.valid is True, result.summary()


@SETTINGS
@given(
    model=st.sampled_from(MODEL_NAMES),
    seed=st.integers(0, 10**6),
    n_ops=st.integers(2, 80),
    concurrency=st.integers(1, 5),
    info=st.sampled_from([0.0, 0.05]),
)
def test_one_impossible_read_makes_it_invalid(model, seed, n_ops, concurrency, info):
    history = generate(
        model, n_ops=n_ops, keys=1, concurrency=concurrency, info_rate=info, seed=seed
    )
    corrupted = corrupt_one_read(model, history, random.Random(seed))
    if corrupted is None:
        return  # no ok read to corrupt
    result = check(corrupted, model, budget_s=60)
    assert result.valid is False
    assert result.counterexample is not None and result.counterexample["blocked"]


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    model=st.sampled_from(MODEL_NAMES),
    seed=st.integers(0, 10**6),
    n_ops=st.integers(1, 8),
    keys=st.integers(1, 2),
    concurrency=st.integers(1, 4),
    info=st.sampled_from([0.0, 0.3]),
    noise=st.sampled_from([0.0, 0.3, 0.7]),
)
def test_small_histories_agree_with_brute_force(model, seed, n_ops, keys, concurrency, info, noise):
    history = generate(
        model,
        n_ops=n_ops,
        keys=keys,
        concurrency=concurrency,
        info_rate=info,
        noise=noise,
        seed=seed,
    )
    fast = check(history, model).valid
    # the oracle sees the whole history as one object (kv-whole for keyed registers)
    oracle_model = get_model(
        "kv-whole" if model in ("kv", "cas-register", "etcd-kv") and keys > 1 else model
    )
    if keys > 1 and oracle_model.name != "kv-whole":
        expected = all(
            brute_force(part, oracle_model)
            for _, part in oracle_model.partition(prepared(history, oracle_model))
        )
    else:
        expected = brute_force(prepared(history, oracle_model), oracle_model)
    assert fast is expected


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    model=st.sampled_from(["register", "cas-register", "etcd-kv", "set"]),
    seed=st.integers(0, 10**6),
    n_ops=st.integers(1, 8),
    concurrency=st.integers(1, 4),
    noise=st.sampled_from([0.0, 0.3, 0.7]),
)
def test_relaxed_search_never_rejects_a_linearizable_history(
    model, seed, n_ops, concurrency, noise
):
    """The relaxed search (info ops may take effect repeatedly) over-approximates: its
    "invalid" must imply the brute-force "invalid"."""
    from checkers.lin_search import search_steps

    history = generate(
        model, n_ops=n_ops, concurrency=concurrency, info_rate=0.4, noise=noise, seed=seed
    )
    m = get_model(model)
    ops = prepared(history, m)
    runner = search_steps(ops, m, reuse_info=True)
    try:
        while True:
            next(runner)
    except StopIteration as done:
        relaxed = done.value.valid
    if relaxed is False:
        assert brute_force(ops, m) is False
