"""The report's plots, as inline SVG: latency of every op, latency quantiles and
throughput over time, each with the fault windows shaded and labelled.

Why these: they are what Jepsen's latency-raw, latency-quantiles and rate graphs show
and what a reader looks at first - did the faults stall the cluster, for how long, and
which ops suffered. Figures are built with `matplotlib.figure.Figure` directly (no
pyplot, so no GUI backend and no global state; rasterized layers are drawn by Agg).

Big histories: the point cloud of the latency plot is rasterized into the SVG (axes
and text stay vector), so 100k points cost a ~100 KB image instead of 100k SVG
elements; beyond DEDUPE_ABOVE points, points that would land on the same pixel with
the same colour and marker are drawn once. Quantiles and throughput are per time
bucket (about BUCKETS of them), so their size does not grow with the history.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from checkers.history import Operation
from harness.report.rundata import FaultWindow, RunData, fault_color

WIDTH_IN = 11.0
DPI = 100
# Every figure uses the same horizontal margins so their time axes line up on the page.
MARGINS = {"left": 0.075, "right": 0.915}  # legends sit in the right gutter
OUTCOME_COLORS = {"ok": "#2e8b57", "fail": "#d62728", "info": "#ff9f1c"}
MARKERS = ("o", "^", "s", "D", "v", "P", "X", "*")
QUANTILES = ((0.5, "p50", "#1f77b4"), (0.95, "p95", "#9467bd"), (0.99, "p99", "#e377c2"),
             (1.0, "max", "#555555"))  # fmt: skip
BUCKETS = 120
NICE_STEPS = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0)
DEDUPE_ABOVE = 20_000
RC = {"font.size": 9, "svg.fonttype": "none", "axes.spines.top": False,
      "axes.spines.right": False}  # fmt: skip


@dataclass
class Plot:
    """One figure for the page."""

    id: str
    title: str
    svg: str
    caption: str


def new_figure(height_in: float) -> Figure:
    fig = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI)
    fig.subplots_adjust(**MARGINS, top=0.86, bottom=0.16)
    return fig


def to_svg(fig: Figure, name: str) -> str:
    """The figure as an <svg> element to inline into HTML (no XML prolog, no date).
    `name` salts the element ids: unique per figure on the page, and the same on every
    render (matplotlib would otherwise pick random ones)."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({**RC, "svg.hashsalt": name}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def time_axis(ax, end_s: float) -> None:  # noqa: ANN001 - a matplotlib Axes
    ax.set_xlim(0, max(end_s, 1e-3))
    ax.set_xlabel("time since the test began (s)")
    ax.grid(axis="x", color="#eeeeee", linewidth=0.6)


def shade_faults(ax, windows: Sequence[FaultWindow], *, labels: bool = True) -> list[Patch]:  # noqa: ANN001
    """Shade each fault window; label it at its start (alternating heights so
    neighbours do not overlap). Returns legend handles, one per fault kind."""
    handles: dict[str, Patch] = {}
    for n, window in enumerate(windows):
        color = fault_color(window.fault)
        ax.axvspan(window.start_s, window.end_s, color=color, alpha=0.13, linewidth=0)
        if labels:
            ax.text(
                window.start_s,
                1.0 + (0.02 if n % 2 == 0 else 0.08),
                window.label,
                transform=ax.get_xaxis_transform(),
                fontsize=7.5,
                color=color,
                clip_on=False,
            )
        handles.setdefault(window.fault, Patch(color=color, alpha=0.3, label=window.fault))
    return list(handles.values())


def latency_axis(ax) -> None:  # noqa: ANN001
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_ylabel("latency (ms)")


def finish(ax, data: RunData, handles: list | None = None) -> None:  # noqa: ANN001
    """Time axis, fault windows and the legend (in the right gutter) of a history plot."""
    time_axis(ax, data.end_s)
    faults = shade_faults(ax, data.windows)
    own = handles if handles is not None else ax.get_legend_handles_labels()[0]
    ax.legend(handles=own + faults, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7.5,
              frameon=False)  # fmt: skip


def bucket_seconds(end_s: float) -> float:
    """A round bucket width giving about BUCKETS buckets over the run."""
    wanted = end_s / BUCKETS
    return next((step for step in NICE_STEPS if step >= wanted), NICE_STEPS[-1])


@dataclass
class Latencies:
    """Ops with a known completion time, as arrays (seconds, milliseconds)."""

    start_s: np.ndarray
    latency_ms: np.ndarray
    status: np.ndarray
    f: np.ndarray
    open_ops: int  # invoked, never completed: no latency to draw


def latencies(operations: Sequence[Operation]) -> Latencies:
    done = [op for op in operations if op.completion_time is not None]
    return Latencies(
        start_s=np.array([op.call_time / 1e9 for op in done], dtype=float),
        latency_ms=np.array(
            [max((op.completion_time or 0) - op.call_time, 1) / 1e6 for op in done], dtype=float
        ),
        status=np.array([op.status for op in done], dtype=object),
        f=np.array([op.f for op in done], dtype=object),
        open_ops=len(operations) - len(done),
    )


def _pixel_unique(x: np.ndarray, y: np.ndarray, end_s: float) -> np.ndarray:
    """Indices of points that fall on distinct pixels (x linear, y log)."""
    px = np.floor(x / max(end_s, 1e-9) * WIDTH_IN * DPI)
    py = np.floor(np.log10(np.maximum(y, 1e-6)) * 60)
    _, keep = np.unique(np.stack([px, py]), axis=1, return_index=True)
    return np.sort(keep)


def latency_raw(data: RunData, lat: Latencies) -> Plot:
    fig = new_figure(4.0)
    ax = fig.add_subplot()
    fs = list(dict.fromkeys(lat.f.tolist()))
    drawn = 0
    for status, color in OUTCOME_COLORS.items():
        for n, f in enumerate(fs):
            mask = (lat.status == status) & (lat.f == f)
            x, y = lat.start_s[mask], lat.latency_ms[mask]
            if len(lat.start_s) > DEDUPE_ABOVE and len(x):
                keep = _pixel_unique(x, y, data.end_s)
                x, y = x[keep], y[keep]
            drawn += len(x)
            ax.plot(x, y, linestyle="", marker=MARKERS[n % len(MARKERS)], markersize=3,
                    markeredgewidth=0, color=color, alpha=0.7, rasterized=True)  # fmt: skip
    latency_axis(ax)
    outcome_handles = [
        Line2D([], [], linestyle="", marker="o", color=c, label=s)
        for s, c in OUTCOME_COLORS.items()
        if (lat.status == s).any()
    ]
    f_handles = [
        Line2D([], [], linestyle="", marker=MARKERS[n % len(MARKERS)], color="#666", label=f)
        for n, f in enumerate(fs)
    ]
    finish(ax, data, outcome_handles + f_handles)
    total = len(lat.start_s)
    caption = f"{total:,} ops with a completion, by invocation time; colour = outcome, marker = op."
    if drawn < total:
        caption += f" {drawn:,} distinct pixels drawn."
    if lat.open_ops:
        caption += f" {lat.open_ops:,} ops never completed (no latency)."
    return Plot("latency-raw", "Latency of every op", to_svg(fig, "latency-raw"), caption)


def _buckets(x: np.ndarray, width: float, end_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Bucket number of each x, and the bucket starts."""
    count = max(1, int(np.ceil(max(end_s, width) / width)))
    return np.minimum((x / width).astype(int), count - 1), np.arange(count) * width


def latency_quantiles(data: RunData, lat: Latencies) -> Plot:
    fig = new_figure(3.2)
    ax = fig.add_subplot()
    width = bucket_seconds(data.end_s)
    known = lat.status != "info"  # an info op's latency is only its timeout
    bucket, starts = _buckets(lat.start_s[known], width, data.end_s)
    values = lat.latency_ms[known]
    order = np.argsort(bucket, kind="stable")
    bucket, values = bucket[order], values[order]
    edges = np.searchsorted(bucket, np.arange(len(starts) + 1))
    centres = starts + width / 2
    for q, label, color in QUANTILES:
        series = np.full(len(starts), np.nan)
        for b in range(len(starts)):
            chunk = values[edges[b] : edges[b + 1]]
            if len(chunk):
                series[b] = np.quantile(chunk, q)
        ax.plot(centres, series, color=color, label=label, linewidth=1.2, marker=".",
                markersize=3)  # fmt: skip
    latency_axis(ax)
    finish(ax, data)
    caption = f"ok and fail ops per {width:g} s bucket of invocation time (info ops excluded)."
    return Plot("latency-quantiles", "Latency quantiles", to_svg(fig, "quantiles"), caption)


def throughput(data: RunData, lat: Latencies) -> Plot:
    fig = new_figure(3.0)
    ax = fig.add_subplot()
    width = bucket_seconds(data.end_s)
    done_s = lat.start_s + lat.latency_ms / 1e3
    for status, color in OUTCOME_COLORS.items():
        mask = lat.status == status
        if not mask.any():
            continue
        bucket, starts = _buckets(done_s[mask], width, data.end_s)
        counts = np.bincount(bucket, minlength=len(starts))
        ax.step(starts, counts / width, where="post", color=color, label=status, linewidth=1.2)
    ax.set_ylabel("ops/s")
    ax.set_ylim(bottom=0)
    finish(ax, data)
    caption = f"completions per second by outcome, in {width:g} s buckets."
    return Plot("throughput", "Throughput", to_svg(fig, "throughput"), caption)


def history_plots(data: RunData) -> list[Plot]:
    """The three history plots; none when no op completed (nothing to draw)."""
    lat = latencies(data.operations)
    if not len(lat.start_s):
        return []
    return [latency_raw(data, lat), latency_quantiles(data, lat), throughput(data, lat)]
