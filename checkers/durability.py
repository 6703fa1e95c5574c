"""Durability: every acknowledged write is still visible in the final reads.

Linearizability already implies this, but its search can run out of budget on a long
history, and a lost acknowledged write is the one bug users care most about; this
check is linear-time and names the lost writes directly.

Final reads are `read` (or `get`) ops marked `"final": true` (on the invocation or the
completion); when none are marked, the reads invoked after the last nemesis op (the
cluster is healed by then). Each final read is judged against the writes acknowledged
before it was invoked:

- `write`/`put`/`cas` (registers): the value read must come from a write that was not
  over before the acknowledged write began; otherwise that write was lost (it must
  have taken effect after every such earlier write, and nothing later wrote the value);
- `append`: every acknowledged appended element is in the list read (or, for string
  values as in Porcupine's kv, the appended string is a substring of the value read).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from checkers.history import NEMESIS, Op, Operation, pair_history
from checkers.result import UNKNOWN, Result, brief

READ_FS = ("read", "get")
WRITE_FS = ("write", "put")
CAS_FS = ("cas",)
APPEND_FS = ("append",)
DELETE_FS = ("delete",)


def _written(op: Operation) -> tuple[bool, Any]:
    """(writes?, value written) for register-like ops."""
    if op.f in WRITE_FS:
        return True, op.value
    if op.f in CAS_FS and isinstance(op.value, list | tuple) and len(op.value) == 2:
        return True, op.value[1]
    if op.f in DELETE_FS:
        return True, None
    return False, None


@dataclass
class FinalRead:
    op: Operation
    marked: bool


def _is_marked_final(ops: Sequence[Op], op: Operation) -> bool:
    if ops[op.call].extra.get("final") is True:
        return True
    return op.ret is not None and ops[op.ret].extra.get("final") is True


def final_reads(ops: Sequence[Op], paired: list[Operation]) -> list[FinalRead]:
    """The ok reads that count as final (see the module docstring)."""
    reads = [o for o in paired if o.f in READ_FS and o.status == "ok"]
    marked = [FinalRead(o, True) for o in reads if _is_marked_final(ops, o)]
    if marked:
        return marked
    nemesis_positions = [i for i, op in enumerate(ops) if op.process == NEMESIS]
    if not nemesis_positions:
        return []
    healed = nemesis_positions[-1]
    return [FinalRead(o, False) for o in reads if o.call > healed]


def has_final_reads(ops: Sequence[Op]) -> bool:
    """Whether the durability checker has anything to judge in this history."""
    try:
        paired = pair_history(ops).ops
    except ValueError:
        return False
    return bool(final_reads(ops, paired))


def _check_register_read(result: Result, read: Operation, writes: list[Operation]) -> int:
    """Judge one final read of a register key; returns how many writes it covered."""
    value = read.result
    acked = [w for w in writes if w.status == "ok" and w.ret is not None and w.ret < read.call]
    # Writers of the value read that may have taken effect last: not over before `w` began.
    sources = [w for w in writes if w.status != "fail" and _written(w)[1] == value]
    if value is not None and not sources:
        result.add_violation(
            f"final read {brief(read)} returned {value!r}, which no write wrote",
            kind="unexpected",
            key=read.key,
            read=read.id,
            value=value,
        )
        return len(acked)
    latest_source_end = max(
        (float("inf") if s.ret is None else s.ret for s in sources), default=-1.0
    )
    for write in acked:
        if _written(write)[1] == value:
            continue
        if latest_source_end < write.call:
            result.add_violation(
                f"acknowledged {brief(write)} lost: final read {brief(read)} "
                f"returned {value!r}, written only by ops over before it began",
                kind="lost",
                key=read.key,
                write=write.id,
                read=read.id,
            )
    return len(acked)


def _contains(collection: Any, element: Any) -> bool:
    if isinstance(collection, str):
        return isinstance(element, str) and element in collection
    if isinstance(collection, list | tuple | set | frozenset):
        return element in collection
    return False


def _check_append_read(result: Result, read: Operation, appends: list[Operation]) -> int:
    acked = [a for a in appends if a.status == "ok" and a.ret is not None and a.ret < read.call]
    for append in acked:
        if not _contains(read.result, append.value):
            result.add_violation(
                f"acknowledged {brief(append)} lost: final read {brief(read)} "
                f"does not contain {append.value!r}",
                kind="lost",
                key=read.key,
                write=append.id,
                read=read.id,
            )
    return len(acked)


def _unjudgeable_keys(
    paired: list[Operation],
    appends: dict[Any, list[Operation]],
    writes: dict[Any, list[Operation]],
) -> set[Any]:
    """Keys whose final value this checker cannot predict: changed by other ops
    (`incr`, `add`, a `transfer` naming them) or by both appends and writes."""
    known = set(READ_FS + WRITE_FS + CAS_FS + APPEND_FS + DELETE_FS)
    skipped = {k for k in appends if k in writes}
    for op in paired:
        if op.f == "transfer" and isinstance(op.value, dict):
            skipped.update(op.value.get(side) for side in ("from", "to"))
        elif op.f not in known:
            skipped.add(op.key)
    return skipped


def check(ops: Sequence[Op]) -> Result:
    """Check that acknowledged writes survive into the final reads."""
    paired = pair_history(ops).ops
    result = Result(name="durability", valid=True)
    finals = final_reads(ops, paired)
    if not finals:
        result.valid = UNKNOWN
        result.summary = "no final reads (none marked final, none after the last nemesis op)"
        return result
    by_key: dict[Any, list[Operation]] = defaultdict(list)
    appends: dict[Any, list[Operation]] = defaultdict(list)
    for op in paired:
        if op.f in APPEND_FS:
            appends[op.key].append(op)
        elif _written(op)[0]:
            by_key[op.key].append(op)
    skipped = _unjudgeable_keys(paired, appends, by_key)
    judged = 0
    for final in finals:
        read = final.op
        if read.key in skipped:
            continue
        if appends.get(read.key):
            judged += _check_append_read(result, read, appends[read.key])
        if by_key.get(read.key):
            judged += _check_register_read(result, read, by_key[read.key])
    result.details = {
        "final_reads": len(finals),
        "final_reads_marked": any(f.marked for f in finals),
        "keys": len({f.op.key for f in finals}),
        "acknowledged_writes_checked": judged,
        "lost": sum(1 for v in result.violations if v.get("kind") == "lost"),
        "keys_not_judged": sorted(map(str, skipped)),
    }
    if result.valid is True:
        result.summary = (
            f"{len(finals)} final reads over {result.details['keys']} keys reflect all "
            f"{judged} acknowledged writes they follow"
        )
    else:
        result.summary = (
            f"{result.violation_count} problems in final reads (lost or unexpected values)"
        )
    return result
