"""The Raft timeline: per node, its role and term over time, from nodes/*/events.jsonl,
on the same time axis as the history plots and with the same fault windows.

Why: a linearizability or durability failure is usually explained by who led when -
two overlapping leaders, an election during a partition, a restart that lost a vote.
Leaders are bars (labelled with their term), elections are ticks, restarts are marks,
and nodes a kill or pause hit are hatched while it lasted.

Node events carry the node's wall clock (`t`, time.time_ns); the run's clock.json says
what wall time the history's 0 was, which puts both on one axis. Without it (older runs)
the timeline starts at its first event and is not aligned with the faults. Only role,
vote and start lines are decoded: a long run's files hold millions of append/commit/apply
lines the timeline does not need.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from checkers.events import Event, iter_parse_events, load_evidence
from harness.report.plots import MARGINS, Plot, new_figure, shade_faults, time_axis, to_svg
from harness.report.rundata import RunData

ROLE_COLORS = {"follower": "#e6e6e6", "pre-candidate": "#fbe7a1", "candidate": "#f6bd3b"}
LEADER_COLORS = ("#4e79a7", "#59a14f", "#e15759", "#b07aa1", "#f28e2b", "#76b7b2", "#9c755f")
# Per node, for its term line and its lane label (so the term plot needs no legend).
NODE_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
               "#7f7f7f", "#bcbd22", "#17becf")  # fmt: skip
NEEDED = re.compile(r'"ev":\s*"(?:role|vote|start)"')  # the only events the timeline reads
MAX_LEADER_ROWS = 30


@dataclass
class Segment:
    start_s: float
    end_s: float
    role: str
    term: int


@dataclass
class NodeTimeline:
    node: str
    segments: list[Segment] = field(default_factory=list)
    elections: list[float] = field(default_factory=list)  # became candidate
    restarts: list[float] = field(default_factory=list)
    terms: list[tuple[float, int]] = field(default_factory=list)  # (time, term) steps


@dataclass
class Leadership:
    term: int
    node: str
    start_s: float
    end_s: float


@dataclass
class RaftTimeline:
    nodes: list[NodeTimeline]
    aligned: bool
    leaders: list[Leadership]
    warnings: list[str]

    @property
    def election_count(self) -> int:
        return sum(len(n.elections) for n in self.nodes)


def _needed_lines(stream: TextIO) -> Iterator[str]:
    search = NEEDED.search
    return (line for line in stream if search(line))


def _node_events(path: Path, node: str, warnings: list[str]) -> list[Event]:
    with open(path, encoding="utf-8", errors="replace") as stream:
        return list(
            iter_parse_events(_needed_lines(stream), node=node, source=str(path), warnings=warnings)
        )


def _timeline(node: str, events: list[Event], origin_ns: int, end_s: float) -> NodeTimeline:
    out = NodeTimeline(node)
    role, term, since = "follower", 0, None
    for event in events:
        at = (event.t - origin_ns) / 1e9
        if event.term and (not out.terms or event.term != out.terms[-1][1]):
            out.terms.append((at, event.term))
        if event.ev == "vote":
            term = max(term, event.term)
            continue
        new_role = "follower" if event.ev == "start" else str(event.get("role"))
        if event.ev == "start":
            out.restarts.append(at)
        elif new_role == "candidate":
            out.elections.append(at)
        if since is not None:
            out.segments.append(Segment(since, at, role, term))
        role, term, since = new_role, event.term or term, at
    if since is not None:
        out.segments.append(Segment(since, max(end_s, since), role, term))
    return out


def load_timeline(run_dir: Path, data: RunData, t0_wall_ns: int | None) -> RaftTimeline | None:
    """Each node's timeline, or None when the run has no node events."""
    nodes_dir = run_dir / "nodes"
    if not nodes_dir.is_dir():
        return None
    evidence = load_evidence(nodes_dir)
    if not evidence.files:
        return None
    warnings: list[str] = []
    per_node = {
        node: [e for path in paths for e in _node_events(path, node, warnings)]
        for node, paths in sorted(evidence.files.items())
    }
    if not any(per_node.values()):
        return None
    origin = t0_wall_ns
    if origin is None:
        origin = min(e.t for events in per_node.values() for e in events if e.t)
    timelines = [_timeline(n, evs, origin, data.end_s) for n, evs in per_node.items()]
    return RaftTimeline(timelines, t0_wall_ns is not None, _leaders(timelines), warnings)


def _leaders(timelines: list[NodeTimeline]) -> list[Leadership]:
    found = [
        Leadership(s.term, t.node, s.start_s, s.end_s)
        for t in timelines
        for s in t.segments
        if s.role == "leader"
    ]
    return sorted(found, key=lambda x: (x.start_s, x.node))


def plot_timeline(timeline: RaftTimeline, data: RunData) -> Plot:
    nodes = timeline.nodes
    fig = new_figure(0.42 * len(nodes) + 1.9)
    grid = fig.add_gridspec(2, 1, height_ratios=[max(len(nodes), 1), 1.6], hspace=0.12)
    lanes = fig.add_subplot(grid[0])
    terms = fig.add_subplot(grid[1], sharex=lanes)
    height_in = fig.get_figheight()
    fig.subplots_adjust(**MARGINS, top=1 - 0.35 / height_in, bottom=0.55 / height_in)
    end_s = (
        data.end_s
        if timeline.aligned
        else max((s.end_s for n in nodes for s in n.segments), default=1.0)
    )
    hit = {w.fault for w in data.windows if w.fault in ("kill", "pause")}
    for y, node in enumerate(nodes):
        for seg in node.segments:
            if seg.role == "leader":
                color = LEADER_COLORS[seg.term % len(LEADER_COLORS)]
                lanes.broken_barh([(seg.start_s, seg.end_s - seg.start_s)], (y - 0.38, 0.76),
                                  color=color)  # fmt: skip
                if seg.end_s - seg.start_s > end_s * 0.03:
                    lanes.text(max(seg.start_s, 0) + end_s * 0.004, y, f"T{seg.term}",
                               va="center", fontsize=7.5, color="white", clip_on=True)  # fmt: skip
            else:
                lanes.broken_barh([(seg.start_s, seg.end_s - seg.start_s)], (y - 0.22, 0.44),
                                  color=ROLE_COLORS.get(seg.role, "#cccccc"))  # fmt: skip
        lanes.plot(node.elections, [y] * len(node.elections), linestyle="", marker="|",
                   markersize=15, markeredgewidth=2, color="#111111", zorder=5)  # fmt: skip
        restarts = [t for t in node.restarts if t >= 0]  # not the starts before the test
        lanes.plot(restarts, [y + 0.42] * len(restarts), linestyle="", marker="v",
                   markersize=6, color="#d62728", zorder=5)  # fmt: skip
        if node.terms:
            xs = [t for t, _ in node.terms] + [end_s]
            ys = [term for _, term in node.terms] + [node.terms[-1][1]]
            terms.step(xs, ys, where="post", linewidth=1.0, color=NODE_COLORS[y % len(NODE_COLORS)])
        if timeline.aligned:
            for window in data.windows:
                if window.fault in hit and node.node in window.nodes:
                    # A killed node reports nothing until it restarts: blank out the role
                    # it last reported. A paused one still believes it (keep it visible).
                    face = "white" if window.fault == "kill" else "none"
                    lanes.broken_barh([(window.start_s, window.seconds)], (y - 0.45, 0.9),
                                      facecolor=face, edgecolor="#555555", hatch="///",
                                      linewidth=0)  # fmt: skip
    lanes.set_yticks(range(len(nodes)), [n.node for n in nodes])
    for y, label in enumerate(lanes.get_yticklabels()):
        label.set_color(NODE_COLORS[y % len(NODE_COLORS)])
    lanes.set_ylim(len(nodes) - 0.5, -0.5)
    lanes.tick_params(axis="x", labelbottom=False)
    terms.set_ylabel("term\n(line colour\n= node)", fontsize=7.5)
    terms.yaxis.get_major_locator().set_params(integer=True)
    time_axis(terms, end_s)
    lanes.set_xlim(terms.get_xlim())
    faults = []
    if timeline.aligned:
        faults = shade_faults(lanes, data.windows)
        shade_faults(terms, data.windows, labels=False)
    legend = [
        Patch(color=LEADER_COLORS[1], label="leader"),
        Patch(color=ROLE_COLORS["candidate"], label="candidate"),
        Patch(color=ROLE_COLORS["follower"], label="follower"),
        Line2D([], [], linestyle="", marker="|", markersize=9, color="#333", label="election"),
        Line2D([], [], linestyle="", marker="v", color="#d62728", label="restart"),
    ]
    if hit and timeline.aligned:
        legend.append(Patch(facecolor="none", edgecolor="#555", hatch="///", label="kill/pause"))
    lanes.legend(handles=legend + faults, loc="upper left", bbox_to_anchor=(1.0, 1.0),
                 fontsize=7.5, frameon=False)  # fmt: skip
    caption = (
        f"{len(nodes)} nodes, {timeline.election_count} elections, "
        f"{len({ld.term for ld in timeline.leaders})} terms with a leader. Bars: the role each"
        " node reported (leaders labelled with their term); ticks: a node became candidate;"
        " red marks: a node (re)started."
    )
    if not timeline.aligned:
        caption += (
            " Not aligned with the history: this run has no clock.json, so the axis starts"
            " at the first node event and fault windows are not drawn."
        )
    return Plot("raft-timeline", "Raft timeline", to_svg(fig, "raft-timeline"), caption)
