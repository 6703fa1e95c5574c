"""The common verdict type every checker returns, and the rule for combining verdicts.

A checker answers True (the property holds), False (it is violated, with evidence) or
"unknown" (it could not decide, e.g. out of budget or missing input). Composed verdicts
follow Jepsen: false beats unknown beats true, so one proven violation is never hidden
by an undecided checker, and "valid" is only claimed when every checker agrees.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

UNKNOWN: Literal["unknown"] = "unknown"
Verdict = bool | Literal["unknown"]

# How many violations a checker lists in full; the count is always exact.
MAX_LISTED = 50


def merge_valid(verdicts: Iterable[Verdict]) -> Verdict:
    """Combine verdicts: any False gives False, else any "unknown" gives "unknown",
    else True (also for no verdicts at all: nothing was violated)."""
    seen_unknown = False
    for verdict in verdicts:
        if verdict is False:
            return False
        if verdict is not True:
            seen_unknown = True
    return UNKNOWN if seen_unknown else True


def verdict_word(verdict: Verdict) -> str:
    """The one word a human summary prints for a verdict."""
    if verdict is True:
        return "valid"
    if verdict is False:
        return "INVALID"
    return "unknown"


@dataclass
class Result:
    """One checker's verdict.

    `summary` is one human line; `details` is JSON-ready data (counts, evidence);
    `violations` lists the individual problems found (each a JSON-ready dict with a
    human "message"), capped at MAX_LISTED with `violation_count` exact."""

    name: str
    valid: Verdict
    summary: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    violations: list[dict[str, Any]] = field(default_factory=list)
    violation_count: int = 0
    warnings: list[str] = field(default_factory=list)

    def add_violation(self, message: str, **data: Any) -> None:
        """Record one violation; marks the result invalid."""
        self.valid = False
        self.violation_count += 1
        if len(self.violations) < MAX_LISTED:
            self.violations.append({"message": message, **data})

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"valid": self.valid, "summary": self.summary}
        if self.details:
            out["details"] = self.details
        if self.violation_count:
            out["violation_count"] = self.violation_count
            out["violations"] = self.violations
        if self.warnings:
            out["warnings"] = self.warnings
        return out


def brief(op: Any, limit: int = 100) -> str:
    """An op's `describe()` cut to `limit` characters, plus where it is in the input:
    a read returning a 50,000-element set must not become a 50,000-element message."""
    text = op.describe()
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    line = getattr(op, "call_line", None)
    return f"{text} ({f'line {line}' if line is not None else f'op {op.id}'})"


def combine(results: Iterable[Result]) -> Verdict:
    """The merged verdict of several results."""
    return merge_valid(r.valid for r in results)
