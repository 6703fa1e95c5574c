"""Shared helpers for the linearizability tests: an op builder and a brute-force oracle.

The oracle is deliberately naive (no linked list, no memo, no partitioning): it tries
every order of the operations that respects real time, so the fast search can be
compared against it on small histories.
"""

from __future__ import annotations

from typing import Any

from checkers.history import Op, Operation, pair_history
from checkers.models import Model


def build(*events: tuple) -> list[Op]:
    """Ops from compact tuples: (type, process, f, value[, key][, error])."""
    ops = []
    for n, event in enumerate(events):
        op_type, process, f, value, *rest = event
        key = rest[0] if rest else None
        error = rest[1] if len(rest) > 1 else None
        ops.append(
            Op(
                type=op_type,
                f=f,
                process=process,
                value=value,
                key=key,
                time=n * 10,
                index=n,
                error=error,
                line=n + 1,
            )
        )
    return ops


def prepared(ops: list[Op], model: Model) -> list[Operation]:
    return [p for p in (model.prepare(o) for o in pair_history(ops).ops) if p is not None]


def brute_force(ops: list[Operation], model: Model) -> bool:
    """True if some order of the ops (info ops optional) respects real time and the model."""
    required = [op.ret is not None for op in ops]
    used = [False] * len(ops)

    def can_go(i: int) -> bool:
        # every op that returned before i was invoked must already be placed
        return all(
            used[j] or ops[j].ret is None or ops[j].ret > ops[i].call
            for j in range(len(ops))
            if j != i
        )

    def extend(state: Any, left: int) -> bool:
        if left == 0:
            return True
        for i in range(len(ops)):
            if used[i] or not can_go(i):
                continue
            ok, new = model.step(state, ops[i])
            if not ok:
                continue
            used[i] = True
            found = extend(new, left - (1 if required[i] else 0))
            used[i] = False
            if found:
                return True
        return False

    return extend(model.init(), sum(required))
