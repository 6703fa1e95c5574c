"""The bank checker: transfers move money, they never create or destroy it.

Two shapes of history are understood:

- whole-bank reads (Jepsen's bank test): a `read` without a key returns every
  account's balance ({account: balance} or a list). Every such read must sum to the
  initial total;
- per-account reads (our `bank` workload, since raftnode has no multi-key read): a
  `read` with `key` = account returns that balance. Mid-test reads are not a consistent
  cut, so only the final reads (marked `"final": true`, one per account, taken after
  all transfers stopped) must sum to the total.

In both, no balance may ever be negative (transfers that would overdraw are refused),
and none may exceed the initial total (money nobody had: an impossible balance, e.g. a
transfer applied twice, or read from a state no transfer order produces).
The initial total is given by the caller, or an op's `"total"` field, or the sum of
the accounts' initial writes (per-account shape), or else the most common total among
whole-bank reads, with a warning saying so.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from checkers.durability import final_reads
from checkers.history import Op, Operation, pair_history
from checkers.result import UNKNOWN, Result, brief

READ_FS = ("read",)
WRITE_FS = ("write",)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _balances(value: Any) -> dict[str, Any] | None:
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    return None


def _declared_total(ops: Sequence[Op]) -> int | None:
    for op in ops:
        total = op.extra.get("total")
        if _number(total):
            return total
    return None


def _where(op: Operation) -> str:
    return f"line {op.call_line}" if op.call_line is not None else f"op {op.id}"


def _initial_writes_total(paired: list[Operation]) -> int | None:
    """Sum of each account's first non-failed write (the setup phase writes them)."""
    first: dict[Any, Any] = {}
    for op in paired:
        if op.f in WRITE_FS and op.key is not None and op.status != "fail" and _number(op.value):
            first.setdefault(op.key, op.value)
    return sum(first.values()) if first else None


class _BankCheck:
    def __init__(self, ops: Sequence[Op], allow_negative: bool) -> None:
        self.ops = ops
        self.paired = pair_history(ops).ops
        self.allow_negative = allow_negative
        self.result = Result(name="bank", valid=True)
        self.wrong_total = 0
        self.negative = 0
        self.impossible = 0

    def negative_check(self, op: Operation, balances: dict[str, Any]) -> None:
        below = {a: b for a, b in balances.items() if _number(b) and b < 0}
        if below and not self.allow_negative:
            self.negative += 1
            self.result.add_violation(
                f"read {brief(op)} shows negative balances {below}",
                kind="negative",
                read=op.id,
                accounts=below,
            )

    def total_check(self, observed: float, total: float, message: str, **data: Any) -> None:
        if observed != total:
            self.wrong_total += 1
            self.result.add_violation(
                f"{message} totals {observed}, expected {total}",
                kind="wrong-total",
                total=observed,
                expected=total,
                **data,
            )

    def impossible_check(self, op: Operation, balances: dict[str, Any], total: float) -> None:
        """A balance above the total needs another account below zero: with negative
        balances allowed that is fine, and a read showing one was reported already."""
        if self.allow_negative or any(_number(b) and b < 0 for b in balances.values()):
            return
        above = {a: b for a, b in balances.items() if _number(b) and b > total}
        if above:
            self.impossible += 1
            self.result.add_violation(
                f"read {brief(op)} shows balances {above} above the bank's total {total}",
                kind="impossible",
                read=op.id,
                accounts=above,
            )

    def bad_read(self, op: Operation) -> None:
        self.result.add_violation(
            f"read {brief(op)} is not a balance",
            kind="bad-read",
            read=op.id,
        )


def check(ops: Sequence[Op], *, total: int | None = None, allow_negative: bool = False) -> Result:
    """Check totals and balances of every ok read (see the module docstring)."""
    bc = _BankCheck(ops, allow_negative)
    result = bc.result
    whole: list[tuple[Operation, dict[str, Any]]] = []
    per_account: list[Operation] = []
    for op in bc.paired:
        if op.f not in READ_FS or op.status != "ok":
            continue
        if op.key is not None:
            if op.result is not None and not _number(op.result):
                bc.bad_read(op)
                continue
            per_account.append(op)
            bc.negative_check(op, {str(op.key): op.result})
            continue
        balances = _balances(op.result)
        if balances is None or not all(_number(b) for b in balances.values()):
            bc.bad_read(op)
            continue
        whole.append((op, balances))
        bc.negative_check(op, balances)
    if total is None:
        total = _declared_total(ops)
    if total is None and per_account:
        total = _initial_writes_total(bc.paired)
    if total is None and whole:
        sums = Counter(sum(b.values()) for _, b in whole)
        total = sums.most_common(1)[0][0]
        if len(sums) > 1:
            result.warnings.append(
                f"initial total not given; assumed {total}, the most common of {len(sums)} totals read"
            )
    for op, balances in whole:
        bc.total_check(sum(balances.values()), total, f"read {_where(op)}", read=op.id)
    if total is not None:
        for op, balances in whole:
            bc.impossible_check(op, balances, total)
        for op in per_account:
            bc.impossible_check(op, {str(op.key): op.result}, total)
    final_total = _check_final_reads(bc, total)
    result.details = {
        "reads": len(whole) + len(per_account),
        "whole_bank_reads": len(whole),
        "account_reads": len(per_account),
        "total": total,
        "final_total": final_total,
        "wrong_total": bc.wrong_total,
        "negative": bc.negative,
        "impossible": bc.impossible,
        "transfers": sum(1 for o in bc.paired if o.f == "transfer"),
        "transfers_ok": sum(1 for o in bc.paired if o.f == "transfer" and o.status == "ok"),
    }
    reads = len(whole) + len(per_account)
    if not reads and result.valid is True:
        result.valid = UNKNOWN
        result.summary = "no ok reads: nothing to judge"
    elif result.valid is True:
        checked = f"total {total}" if whole or final_total is not None else "total not checked"
        result.summary = f"{reads} reads: {checked}, no negative or impossible balance"
    else:
        result.summary = (
            f"{bc.wrong_total} wrong totals, {bc.negative} reads with negative balances, "
            f"{bc.impossible} with impossible ones (of {reads} reads)"
        )
    return result


def _check_final_reads(bc: _BankCheck, total: int | None) -> float | None:
    """Sum the final per-account reads (one per account); None when there are none."""
    finals = [f.op for f in final_reads(bc.ops, bc.paired) if f.marked and f.op.key is not None]
    if not finals:
        return None
    last: dict[Any, Operation] = {}
    for op in finals:
        last[op.key] = op
    if any(not _number(op.result) and op.result is not None for op in last.values()):
        return None
    observed = sum(op.result or 0 for op in last.values())
    if total is None:
        bc.result.warnings.append("initial total unknown: final reads not checked")
        return observed
    accounts = {o.key for o in bc.paired if o.key is not None and o.f in WRITE_FS + READ_FS}
    missing = sorted(map(str, accounts - set(last)))
    if missing:
        bc.result.warnings.append(f"no final read of {', '.join(missing)}: final total not checked")
        return None
    bc.total_check(
        observed, total, f"final reads of {len(last)} accounts", reads=[o.id for o in last.values()]
    )
    _check_final_balances(bc, last)
    return observed


def _check_final_balances(bc: _BankCheck, last: dict[Any, Operation]) -> None:
    """Each final balance must be one the transfers can explain: its initial write, plus
    every acknowledged transfer (each happened exactly once), plus some subset of the
    transfers whose outcome is unknown (failed ones certainly did not happen). A balance
    outside [initial + ok + the unknowns' losses, initial + ok + their gains] means an
    acknowledged transfer was lost or one was applied twice, which the total cannot
    show: both leave the sum alone. Accounts whose initial write is not certain are
    skipped."""
    writes: dict[Any, list[Operation]] = {}
    for op in bc.paired:
        if op.f in WRITE_FS and op.key is not None:
            writes.setdefault(op.key, []).append(op)
    net: dict[Any, float] = dict.fromkeys(last, 0)
    low: dict[Any, float] = dict.fromkeys(last, 0)
    high: dict[Any, float] = dict.fromkeys(last, 0)
    for op in bc.paired:
        value = op.value
        if op.f != "transfer" or op.status == "fail" or not isinstance(value, dict):
            continue
        amount = value.get("amount")
        if not _number(amount):
            continue
        for account, delta in ((value.get("from"), -amount), (value.get("to"), amount)):
            if account not in net:
                continue
            if op.status == "ok":
                net[account] += delta
            else:
                low[account] += min(0, delta)
                high[account] += max(0, delta)
    for account, read in last.items():
        initial = writes.get(account, [])
        if len(initial) != 1 or initial[0].status != "ok" or not _number(initial[0].value):
            continue
        base = initial[0].value + net[account]
        lo, hi = base + low[account], base + high[account]
        balance = read.result or 0
        if not lo <= balance <= hi:
            bc.impossible += 1
            bc.result.add_violation(
                f"final read {brief(read)}: balance {balance} of {account} is impossible: "
                f"its initial {initial[0].value} and acknowledged transfers give {base}, "
                f"the unknown ones at most [{lo}, {hi}] (an acknowledged transfer lost, "
                "or one applied twice)",
                kind="impossible-final",
                key=account,
                read=read.id,
                balance=balance,
                expected=[lo, hi],
            )
