"""Unhandled client errors: error codes the client did not know how to classify.

Clients map every failure to ok/fail/info, and that mapping is what the other checkers
trust (a `fail` must mean "certainly did not happen"). An error string outside the
known set means a failure mode nobody classified on purpose, so it is reported with
its count and first occurrence, like Jepsen's unhandled-exceptions checker. It is
informational: the verdict stays true, but the summary says what to look at.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from checkers.history import Op, Operation, pair_history
from checkers.result import Result

# docs/interfaces.md §2 error codes, plus what clients record for transport failures
# (harness/dbs/raftnode_client.py) and what Jepsen/Porcupine histories carry. An HTTP
# status the client did not map shows up as "http-NNN" and is deliberately not here.
KNOWN_ERRORS = frozenset(
    {
        "not-leader",
        "unavailable",
        "precondition-failed",
        "not-found",
        "bad-request",
        "timeout",
        "timed-out",
        "connection-refused",
        "connection-reset",
        "connection-closed",
        "connection-error",
        "connection lost",  # harness raftnode client: dropped after sending (info)
        "connect",  # harness raftnode client: "connect: <reason>" (fail)
        "connect-timeout",
        "indefinite",  # harness raftnode client: "indefinite: <last error>" after a retry (info)
        "no-leader",
        "insufficient-funds",
    }
)


def error_code(error: Any) -> str | None:
    """Normalise an op's error to its code: "timeout: read 5s" -> "timeout",
    {"error": "x"} -> "x", [":timed-out", ...] -> "timed-out"."""
    if error is None:
        return None
    if isinstance(error, dict):
        for name in ("error", "code", "type"):
            if name in error:
                return error_code(error[name])
        return "<object>"
    if isinstance(error, list | tuple):
        return error_code(error[0]) if error else None
    text = str(error).strip().lstrip(":")
    code = text.split(":", 1)[0].strip().lower()
    return code or None


def check(ops: Sequence[Op], *, known: Iterable[str] = KNOWN_ERRORS) -> Result:
    known_set = frozenset(known)
    paired: list[Operation] = pair_history(ops).ops
    counts: Counter[str] = Counter()
    first: dict[str, Operation] = {}
    unknown: Counter[str] = Counter()
    for op in paired:
        code = error_code(op.error)
        if code is None:
            continue
        counts[code] += 1
        first.setdefault(code, op)
        if code not in known_set:
            unknown[code] += 1
    result = Result(name="errors", valid=True)
    result.details = {
        "by_code": dict(counts.most_common()),
        "unhandled": {
            code: {
                "count": n,
                "first": first[code].describe(),
                "line": first[code].call_line,
                "error": str(first[code].error),
            }
            for code, n in unknown.most_common()
        },
    }
    if unknown:
        result.summary = f"{sum(unknown.values())} ops with unhandled errors: " + ", ".join(
            f"{code} x{n}" for code, n in unknown.most_common(5)
        )
        result.warnings.append(result.summary)
    elif counts:
        result.summary = f"{sum(counts.values())} errors, all of known kinds"
    else:
        result.summary = "no client errors"
    return result
