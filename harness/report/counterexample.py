"""The linearizability counterexample, as data for the report's interactive view.

Why only the window: checkers/lin_report.py already picked the ops that matter - the last
linearized ones, the op that could not be linearized and everything concurrent with it,
at most a couple of hundred - so the page stays small and opens fast however long the
history was. This module only turns that JSON into what the page's script draws
(times in seconds, one short label per op) and never re-runs the search.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from checkers.history import Operation


@dataclass
class CounterexampleView:
    checker: str
    key: Any
    model: str
    ops: int  # ops of the key the search had to order
    blocked: list[str]  # the op(s) that could not be linearized, in words
    state_before: str  # model state after the longest linearizable prefix
    prefix_length: int
    prefix_count: int  # dead ends at the deepest level (the view can switch between them)
    data_json: str  # for <script type="application/json">: safe to inline
    text: str  # the checker's own text rendering


def op_label(op: dict[str, Any]) -> str:
    """`p3 cas r [1, 2] -> fail precondition-failed`: the checkers' own rendering."""
    return Operation(
        id=op.get("id", -1),
        process=op.get("process", "?"),
        f=str(op.get("f")),
        key=op.get("key"),
        value=op.get("value"),
        result=op.get("result"),
        status=str(op.get("status", "?")),
        error=op.get("error"),
        call=op.get("start_index", -1),
        ret=op.get("end_index"),
    ).describe()


def _seconds(ns: Any) -> float | None:
    return ns / 1e9 if isinstance(ns, int | float) else None


def _view_op(op: dict[str, Any]) -> dict[str, Any]:
    lines = op.get("lines") or [None, None]
    return {
        "id": op.get("id"),
        "process": op.get("process"),
        "label": op_label(op),
        "f": op.get("f"),
        "status": op.get("status"),
        "start": _seconds(op.get("start")),
        "end": _seconds(op.get("end")),
        "linearized": bool(op.get("linearized")),
        "lin_index": op.get("lin_index"),
        "state_after": op.get("state_after"),
        "blocked": bool(op.get("blocked")),
        "lines": lines,
    }


def safe_json(data: Any) -> str:
    """JSON that cannot end the <script> element it is inlined into."""
    return json.dumps(data, default=str).replace("<", "\\u003c").replace(">", "\\u003e")


def find_counterexample(results: dict[str, Any]) -> CounterexampleView | None:
    """The first checker entry whose details hold a linearizability counterexample."""
    for name in results.get("checkers", []):
        entry = results.get(name)
        details = entry.get("details") if isinstance(entry, dict) else None
        ce = details.get("counterexample") if isinstance(details, dict) else None
        if not isinstance(ce, dict) or not ce.get("prefixes"):
            continue
        prefixes = [
            {
                "length": p.get("length", 0),
                "state": p.get("state", ""),
                "blocked": p.get("blocked"),
                "ops": [_view_op(w) for w in p.get("window", []) if isinstance(w, dict)],
            }
            for p in ce["prefixes"]
            if isinstance(p, dict)
        ]
        first = prefixes[0]
        summary = str(entry.get("summary", ""))
        return CounterexampleView(
            checker=name,
            key=ce.get("key"),
            model=str(details.get("model", "")),
            ops=int(ce.get("ops", 0)),
            blocked=[op_label(b) for b in ce.get("blocked", []) if isinstance(b, dict)],
            state_before=str(first["state"]),
            prefix_length=int(first["length"]),
            prefix_count=len(prefixes),
            data_json=safe_json({"key": ce.get("key"), "ops": ce.get("ops"), "prefixes": prefixes}),
            text=summary.split("\n", 1)[1] if "\n" in summary else "",
        )
    return None
