"""Small drivers for poking one NodeLogic with hand-made messages, and for the simulation."""

from __future__ import annotations

from typing import Any

from raftnode.core.node import NodeLogic
from raftnode.core.types import (
    ClientReply,
    Entry,
    HardState,
    Message,
    NodeConfig,
    PersistentState,
    Ready,
    Snapshot,
)
from raftnode.sim import SimCluster


def make_node(
    node_id: str = "n1",
    peers: tuple[str, ...] = ("n1", "n2", "n3"),
    *,
    term: int = 0,
    voted_for: str | None = None,
    commit: int = 0,
    log: list[tuple[int, Any]] | None = None,
    snapshot: Snapshot | None = None,
    bugs: frozenset[str] = frozenset(),
    **cfg: Any,
) -> NodeLogic:
    """A node restored with `log` given as [(term, command), ...] from index 1 (or after
    the snapshot)."""
    base = snapshot.index if snapshot else 0
    entries = [Entry(t, base + i + 1, c) for i, (t, c) in enumerate(log or [])]
    config = NodeConfig(
        election_ticks=cfg.pop("election_ticks", 10),
        heartbeat_ticks=cfg.pop("heartbeat_ticks", 2),
        bugs=bugs,
        seed=cfg.pop("seed", 1),
        **cfg,
    )
    restored = PersistentState(HardState(term, voted_for, commit), snapshot, entries)
    return NodeLogic(node_id, list(peers), config, restored)


def drain(node: NodeLogic) -> Ready:
    """Collect every pending Ready into one (advancing each) and return the merged view."""
    out = Ready()
    while node.has_ready():
        rd = node.ready()
        if rd.hard_state is not None:
            out.hard_state = rd.hard_state
        out.entries += rd.entries
        out.snapshot = rd.snapshot or out.snapshot
        out.messages += rd.messages
        out.replies += rd.replies
        out.events += rd.events
        out.compact_to = max(out.compact_to, rd.compact_to)
        node.advance(rd)
    return out


def msgs(rd: Ready, kind: str, dst: str | None = None) -> list[Message]:
    return [m for m in rd.messages if m.kind == kind and (dst is None or m.dst == dst)]


def reply_for(rd: Ready, handle: str) -> ClientReply:
    found = [r for r in rd.replies if r.handle == handle]
    assert len(found) == 1, f"expected one reply for {handle}, got {rd.replies}"
    return found[0]


def msg(kind: str, src: str, dst: str, term: int, **kw: Any) -> Message:
    return Message(kind=kind, src=src, dst=dst, term=term, **kw)


def elect(node: NodeLogic, max_ticks: int = 200) -> Ready:
    """Tick `node` until it campaigns, grant every (pre)vote, return what followed."""
    peers = [p for p in node.raft.peers if p != node.id]
    for _ in range(max_ticks):
        node.tick(0)
        rd = drain(node)
        pre = msgs(rd, "prevote")
        if pre or node.raft.role == "candidate" or node.raft.role == "leader":
            break
    if node.raft.role != "leader":
        for p in peers:
            node.step(msg("prevote_resp", p, node.id, node.raft.term + 1, granted=True))
        drain(node)
        for p in peers:
            node.step(msg("vote_resp", p, node.id, node.raft.term, granted=True))
    rd = drain(node)
    assert node.raft.role == "leader", node.status()
    return rd


def ack_all(node: NodeLogic, rd: Ready, to: str | None = None) -> Ready:
    """Answer every append in `rd` (only those to follower `to`, if given) as an
    up-to-date follower would; returns the node's next Ready."""
    for m in msgs(rd, "append", to):
        node.step(
            msg(
                "append_resp",
                m.dst,
                node.id,
                m.term,
                match_index=m.log_index + len(m.entries),
                log_index=m.log_index,
                context=m.context,
            )
        )
    return drain(node)


def sim_leader(cl: SimCluster, among: list[str] | None = None, ticks: int = 400) -> str:
    """Run the simulation until a leader (one of `among`) has committed in its term."""

    def ok() -> bool:
        lead = cl.leader()
        if lead is None or (among is not None and lead not in among):
            return False
        logic = cl.nodes[lead].logic
        return logic is not None and logic.raft.committed_in_term()

    assert cl.run_until(ok, ticks), f"no leader among {among or cl.ids}"
    lead = cl.leader()
    assert lead is not None
    return lead


def sim_write(cl: SimCluster, node: str, value: str, key: str = "k") -> None:
    """One write at `node` that must be acknowledged."""
    op = cl.submit(node, "write", key, value)
    assert cl.run_until(lambda: op.complete is not None, 200)
    assert op.ok, op.reply
