"""Counterexamples: what to show a human (text) and the HTML report (data) when a
history is not linearizable.

Why this content: the deepest partial linearization the search reached is the best
evidence - every op in it was explained, and the op that could not follow it (its
return came first) is the one to look at. Ops concurrent with it are the ones whose
order the search tried; they form the window a timeline should draw.
"""

from __future__ import annotations

from typing import Any

from checkers.history import Operation
from checkers.lin_search import DeadEnd

# Linearized ops listed in the text before the blocked op, for context.
CONTEXT_OPS = 8
# Linearized ops before the blocked op that the window (the HTML timeline) keeps: enough
# to see how the state got there, few enough that a 100k-op history's report stays small.
WINDOW_CONTEXT_OPS = 40
# At most this many ops in a window (a timeline of a thousand bars helps nobody).
MAX_WINDOW = 200


def jsonable(value: Any) -> Any:
    """Frozen model values (tuples, frozensets) back to JSON-able lists."""
    if isinstance(value, tuple | list):
        return [jsonable(v) for v in value]
    if isinstance(value, frozenset | set):
        return sorted((jsonable(v) for v in value), key=repr)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return repr(value)


def key_label(key: Any) -> Any:
    return key if key is None or isinstance(key, str | int) else repr(jsonable(key))


def _overlaps(op: Operation, start: int, end: float) -> bool:
    op_end = float("inf") if op.ret is None else op.ret
    return op.call < end and op_end > start


def _lines(op: Operation) -> str:
    if op.call_line is None:
        return ""
    if op.ret_line is None:
        return f" (line {op.call_line})"
    return f" (lines {op.call_line}-{op.ret_line})"


def window(ops: list[Operation], dead: DeadEnd) -> list[int]:
    """Op indices around the dead end: the last linearized ops, and every op whose
    interval overlaps the blocked op's."""
    blocked = ops[dead.blocked]
    end = float("inf") if blocked.ret is None else blocked.ret
    chosen = set(dead.order[-WINDOW_CONTEXT_OPS:])
    chosen.add(dead.blocked)
    chosen.update(i for i, op in enumerate(ops) if _overlaps(op, blocked.call, end))
    ordered = sorted(chosen, key=lambda i: ops[i].call)
    if len(ordered) > MAX_WINDOW:
        centre = ordered.index(dead.blocked)
        lo = max(0, centre - MAX_WINDOW // 2)
        ordered = ordered[lo : lo + MAX_WINDOW]
    return ordered


def states_after(
    ops: list[Operation], dead: DeadEnd, model: Any, wanted: set[int]
) -> dict[int, str]:
    """The model state right after each op of `wanted` in the dead end's partial
    linearization (replayed from the initial state), described as text.

    Why replay: the search keeps only the final state of a path; a reader of the
    timeline wants to see how each op moved the state. An op listed twice (the relaxed
    search may re-apply an info op) gets the state after its last application."""
    state = model.init()
    out: dict[int, str] = {}
    for op_id in dead.order:
        ok, state = model.step(state, ops[op_id])
        if not ok:  # cannot happen for a path the search found; stop rather than guess
            break
        if op_id in wanted:
            out[op_id] = model.describe(state)
    return out


def op_json(op: Operation) -> dict[str, Any]:
    return {
        "process": op.process,
        "f": op.f,
        "key": key_label(op.key),
        "value": jsonable(op.value),
        "result": jsonable(op.result),
        "status": op.status,
        "error": jsonable(op.error),
        "start": op.call_time,
        "end": op.ret_time,  # None: unknown outcome (info), open-ended
        "start_index": op.call,
        "end_index": op.ret,
        "lines": [op.call_line, op.ret_line],
    }


def counterexample(key: Any, ops: list[Operation], dead_ends: list[DeadEnd], model: Any) -> dict:
    """JSON-able counterexample for one key: per deepest dead end, the linearized
    prefix (op ids in order), the state it left, the blocked op and a window of ops
    with which of them were linearized, in what position and the state after them (for
    a timeline)."""
    prefixes = []
    for dead in dead_ends:
        position = {op_id: n for n, op_id in enumerate(dead.order)}
        shown = window(ops, dead)
        after = states_after(ops, dead, model, set(shown))
        prefixes.append(
            {
                "length": len(dead.order),
                "order": dead.order,
                "state": model.describe(dead.state),
                "blocked": dead.blocked,
                "window": [
                    {
                        "id": i,
                        **op_json(ops[i]),
                        "linearized": i in position,
                        "lin_index": position.get(i),
                        "state_after": after.get(i),
                        "blocked": i == dead.blocked,
                    }
                    for i in shown
                ],
            }
        )
    blocked_ids = sorted({d.blocked for d in dead_ends})
    return {
        "key": key_label(key),
        "ops": len(ops),
        "blocked": [{"id": i, **op_json(ops[i])} for i in blocked_ids],
        "prefixes": prefixes,
    }


def counterexample_text(ce: dict, ops: list[Operation]) -> str:
    """The counterexample as a few lines a human can act on."""
    key = "" if ce["key"] is None else f"key {ce['key']!r}: "
    out = []
    for prefix in ce["prefixes"][:1]:
        blocked = ops[prefix["blocked"]]
        out.append(f"{key}cannot linearize {blocked.describe()}{_lines(blocked)}")
        out.append(
            f"  longest linearizable prefix: {prefix['length']} of {ce['ops']} ops, "
            f"leaving state {prefix['state']}"
        )
        tail = prefix["order"][-CONTEXT_OPS:]
        if tail:
            out.append("  last linearized, in order:")
            out.extend(f"    {ops[i].describe()}{_lines(ops[i])}" for i in tail)
        concurrent = [w for w in prefix["window"] if not w["linearized"] and not w["blocked"]]
        if concurrent:
            out.append("  concurrent and not linearized:")
            out.extend(f"    {ops[w['id']].describe()}{_lines(ops[w['id']])}" for w in concurrent)
    others = [ops[p["blocked"]] for p in ce["prefixes"][1:]]
    if others:
        out.append("  other dead ends at the same depth block on:")
        out.extend(f"    {op.describe()}{_lines(op)}" for op in others)
    return "\n".join(out)
