"""report.html: the verdict, each checker's result, an op timeline with the nemesis
windows shaded, the linearizability counterexample if there is one, and latency/rate
plots when matplotlib is importable.

Why server-side SVG: the report is one self-contained file a user can open from the
store (or attach to a bug) without JavaScript or network access. Like Jepsen's timeline
it renders at most MAX_TIMELINE_OPS ops; the rest are counted, not drawn.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from checkers.history import NEMESIS, HistoryError, Op, Operation, pair_history

MAX_TIMELINE_OPS = 10_000
WIDTH = 1100
LANE = 14
COLORS = {"ok": "#6db36d", "fail": "#e07b7b", "info": "#f2c14e", "open": "#bbbbbb"}
FAULT_COLORS = ["#9ecae1", "#fdae6b", "#bcbddc", "#a1d99b", "#fc9272", "#d9d9d9"]
log = logging.getLogger("splitbrain.report")


@dataclass
class Bar:
    x: float
    y: float
    w: float
    color: str
    title: str
    marked: bool = False


@dataclass
class Window:
    x: float
    w: float
    color: str
    label: str


def client_operations(ops: list[Op]) -> list[Operation]:
    """The client operations in invoke order, paired as the checkers pair them (none if
    the history does not pair up: the checkers report why)."""
    try:
        return pair_history(ops).ops
    except HistoryError as exc:
        log.warning("timeline: %s", exc)
        return []


def fault_windows(ops: list[Op], end_ns: int) -> list[tuple[str, int, int]]:
    """(fault, start_ns, end_ns) from start-X … stop-X nemesis completions; a window
    never closed lasts until the end of the history."""
    opened: dict[str, int] = {}
    windows: list[tuple[str, int, int]] = []
    for op in ops:
        if op.process != NEMESIS or op.type == "invoke":
            continue
        if op.f.startswith("start-"):
            opened.setdefault(op.f[6:], op.time)
        elif op.f.startswith("stop-") and op.f[5:] in opened:
            windows.append((op.f[5:], opened.pop(op.f[5:]), op.time))
    windows.extend((name, start, end_ns) for name, start in opened.items())
    return sorted(windows, key=lambda w: w[1])


def timeline(ops: list[Op], highlight: set[int] | None = None) -> dict[str, Any]:
    """Geometry for the SVG: one lane per process, bars from invoke to completion;
    invocations whose history position is in ``highlight`` (a counterexample) are outlined."""
    pairs = client_operations(ops)
    end_ns = max((op.time for op in ops), default=1) or 1
    drawn = pairs[:MAX_TIMELINE_OPS]
    lanes = {p: i for i, p in enumerate(sorted({op.process for op in drawn}, key=str))}
    scale = WIDTH / end_ns
    bars = []
    for op in drawn:
        done = op.completion_time
        stop = done if done is not None else end_ns
        kind = op.status if done is not None else "open"
        title = f"p{op.process} {op.f} {op.key if op.key is not None else ''} {json.dumps(op.value, default=str)} → {kind}"
        if op.status == "ok":
            title += f" {json.dumps(op.result, default=str)}"
        bars.append(
            Bar(
                op.call_time * scale,
                lanes[op.process] * LANE,
                max((stop - op.call_time) * scale, 1.0),
                COLORS.get(kind, "#999"),
                title,
                op.call in (highlight or set()),
            )
        )
    names = sorted({w[0] for w in fault_windows(ops, end_ns)})
    windows = [
        Window(
            s * scale,
            max((e - s) * scale, 1.0),
            FAULT_COLORS[names.index(n) % len(FAULT_COLORS)],
            n,
        )
        for n, s, e in fault_windows(ops, end_ns)
    ]
    return {
        "bars": bars,
        "windows": windows,
        "height": max(len(lanes), 1) * LANE,
        "width": WIDTH,
        "lanes": len(lanes),
        "omitted": len(pairs) - len(drawn),
        "seconds": end_ns / 1e9,
    }


@dataclass
class Counterexample:
    """What a checker offers as evidence: the ops it could not place, and the raw data."""

    checker: str
    blocked: list[str]
    raw: str
    indices: set[int]


def _describe(op: dict[str, Any]) -> str:
    key = f" {op['key']}" if op.get("key") is not None else ""
    value = json.dumps(op.get("value"), default=str)
    result = f" {json.dumps(op.get('result'), default=str)}" if "result" in op else ""
    lines = op.get("lines")
    where = f" (lines {lines[0]}-{lines[-1]})" if isinstance(lines, list) and lines else ""
    return (
        f"p{op.get('process')} {op.get('f')}{key} {value} -> {op.get('status', '?')}{result}{where}"
    )


def find_counterexamples(results: dict[str, Any]) -> list[Counterexample]:
    """Every counterexample-like entry in the results; the ops it blocks on are listed
    in words and their history indices returned for highlighting in the timeline."""
    found = []
    for name in results.get("checkers", []):
        entry = results.get(name)
        if not isinstance(entry, dict):
            continue
        details = entry.get("details") or {}
        for key in ("counterexample", "witness", "anomaly"):
            if key not in details:
                continue
            data = details[key]
            blocked = data.get("blocked", []) if isinstance(data, dict) else []
            blocked = [b for b in blocked if isinstance(b, dict)]
            found.append(
                Counterexample(
                    checker=name,
                    blocked=[_describe(b) for b in blocked],
                    raw=json.dumps(data, indent=1, default=str)[:20_000],
                    indices={
                        b["start_index"] for b in blocked if isinstance(b.get("start_index"), int)
                    },
                )
            )
    return found


def plots(ops: list[Op], out_dir: Path) -> list[str]:
    """latency-raw.png and rate.png when matplotlib is available; file names written."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    pairs = [op for op in client_operations(ops) if op.completion_time is not None]
    if not pairs:
        return []
    end_ns = max(op.time for op in ops) or 1
    windows = fault_windows(ops, end_ns)
    written = []
    fig, ax = plt.subplots(figsize=(11, 4))
    for kind, color in COLORS.items():
        pts = [
            (op.call_time / 1e9, (op.completion_time - op.call_time) / 1e6)
            for op in pairs
            if op.status == kind
        ]
        if pts:
            ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=2, color=color, label=kind)
    for name, start, stop in windows:
        ax.axvspan(start / 1e9, stop / 1e9, alpha=0.15, label=name)
    ax.set_yscale("log")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("latency (ms)")
    ax.legend(loc="upper right", fontsize="small")
    fig.savefig(out_dir / "latency-raw.png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    written.append("latency-raw.png")
    fig, ax = plt.subplots(figsize=(11, 3))
    seconds = int(end_ns / 1e9) + 1
    for kind, color in COLORS.items():
        counts = [0] * seconds
        for op in pairs:
            if op.status == kind:
                counts[min(int(op.completion_time / 1e9), seconds - 1)] += 1
        ax.plot(range(seconds), counts, color=color, label=kind)
    for _name, start, stop in windows:
        ax.axvspan(start / 1e9, stop / 1e9, alpha=0.15)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("ops/s")
    ax.legend(loc="upper right", fontsize="small")
    fig.savefig(out_dir / "rate.png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    written.append("rate.png")
    return written


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("harness", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
    )


def render(spec: Any, results: dict[str, Any], ops: list[Op], images: list[str]) -> str:
    from checkers.result import verdict_word

    spec_dict = spec.to_dict() if hasattr(spec, "to_dict") else dict(spec or {})
    counterexamples = find_counterexamples(results)
    checkers = [
        {
            "name": n,
            "valid": verdict_word(results.get(n, {}).get("valid")),
            "entry": results.get(n, {}),
        }
        for n in results.get("checkers", [])
    ]
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            verdict=verdict_word(results.get("valid", "unknown")),
            results=results,
            results_json=json.dumps(results, indent=2, default=str)[:200_000],
            spec=spec_dict,
            checkers=checkers,
            timeline=timeline(ops, set().union(*(c.indices for c in counterexamples))),
            counterexamples=counterexamples,
            images=images,
            colors=COLORS,
        )
    )


def write_report(run_dir: Path, spec: Any, results: dict[str, Any], ops: list[Op]) -> Path:
    """Write run_dir/report.html (and plots) for the history ``ops`` (the runner's one
    read of history.jsonl); returns the report's path."""
    images = plots(ops, run_dir)
    path = run_dir / "report.html"
    path.write_text(render(spec, results, ops, images), encoding="utf-8")
    return path
