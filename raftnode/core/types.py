"""Data that crosses the boundary of the I/O-free core (etcd-raft style).

The runtime (and the in-memory simulation) feed `Message`s, ticks and client requests
into `raftnode.core.node.NodeLogic`; it hands back `Ready` batches. The runtime must:

1. persist `ready.hard_state`, `ready.snapshot` and `ready.entries` (entries[0].index may
   be at or below the last stored index: the stored log is cut there first) and fsync;
2. only then send `ready.messages` and `ready.replies`, and write `ready.events`;
3. call `NodeLogic.advance(ready)`.

Two things may leave before step 1 finishes, because they vouch for nothing on this
node's disk: a leader's AppendEntries/InstallSnapshot (the core counts the leader's own
copy of an entry only after `advance`, i.e. once it is durable) and client replies (a
write is answered once committed, which already required that). raftnode.runtime sends
them early to pipeline replication with the fsync; the simulation keeps the plain order.

Everything here is plain data that round-trips through JSON (`to_json`/`from_json`),
which is also the wire format between peers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from raftnode.bugs import Bug, BugFlags

# Message kinds on the peer wire.
MSG_KINDS = (
    "prevote",  # PreVote request: would you vote for me at term+1? (no state change)
    "prevote_resp",
    "vote",  # RequestVote
    "vote_resp",
    "append",  # AppendEntries (also heartbeats: entries=[])
    "append_resp",
    "snapshot",  # InstallSnapshot (whole snapshot in one message)
    "snapshot_resp",
    "forward",  # a follower forwards a client request to the leader
    "forward_resp",
)


@dataclass(frozen=True)
class Entry:
    """One log entry. `command` is the client command dict, or None for a leader no-op."""

    term: int
    index: int
    command: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"term": self.term, "index": self.index, "command": self.command}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Entry:
        return cls(term=int(obj["term"]), index=int(obj["index"]), command=obj.get("command"))


@dataclass(frozen=True)
class HardState:
    """What must survive a crash besides the log: term, vote, and the known commit index."""

    term: int = 0
    voted_for: str | None = None
    commit: int = 0


@dataclass(frozen=True)
class Snapshot:
    """State machine image up to and including `index` (whose entry had `term`)."""

    index: int
    term: int
    data: dict[str, Any]
    peers: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "term": self.term,
            "data": self.data,
            "peers": list(self.peers),
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Snapshot:
        return cls(
            index=int(obj["index"]),
            term=int(obj["term"]),
            data=obj["data"],
            peers=tuple(obj.get("peers", ())),
        )


@dataclass
class Message:
    """A peer-to-peer message. Fields unused by a kind keep their defaults."""

    kind: str
    src: str
    dst: str
    term: int
    log_index: int = 0  # prevLogIndex (append) / lastLogIndex (vote, prevote)
    log_term: int = 0  # prevLogTerm (append) / lastLogTerm (vote, prevote)
    entries: list[Entry] = field(default_factory=list)
    commit: int = 0
    reject: bool = False
    granted: bool = False
    match_index: int = 0  # append_resp: highest index known to match
    hint_index: int = 0  # append_resp on reject: where the leader should back up to
    hint_term: int = 0
    context: Any = None  # ReadIndex round id on heartbeats; forwarded request on forward
    snapshot: Snapshot | None = None

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["entries"] = [e.to_json() for e in self.entries]
        out["snapshot"] = self.snapshot.to_json() if self.snapshot else None
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Message:
        data = dict(obj)
        if data.get("kind") not in MSG_KINDS:
            raise ValueError(f"unknown message kind {data.get('kind')!r}")
        data["entries"] = [Entry.from_json(e) for e in data.get("entries") or []]
        snap = data.get("snapshot")
        data["snapshot"] = Snapshot.from_json(snap) if snap else None
        return cls(**data)


@dataclass
class ClientRequest:
    """A client operation handed to the core. `handle` is the runtime's id for routing the
    reply back (unique per node); `client_id`/`seq` identify the op for dedup across retries.

    op is one of: read, write, cas, append, delete, incr, transfer (see raftnode.kv)."""

    handle: str
    op: str
    key: str | None = None
    value: Any = None
    client_id: str | None = None
    seq: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ClientReply:
    """The answer to a ClientRequest. `error` is None on success, else one of
    not-leader, unavailable, precondition-failed, not-found, bad-request, timeout."""

    handle: str
    ok: bool
    value: Any = None
    error: str | None = None
    leader: str | None = None  # node id of the leader when known (for not-leader)
    index: int | None = None  # log index the op was applied at, when it went through the log
    message: str | None = None  # one human-readable line for errors (HTTP "message")


@dataclass
class Ready:
    """One batch of work for the runtime; see the module docstring for the order."""

    hard_state: HardState | None = None
    entries: list[Entry] = field(default_factory=list)
    snapshot: Snapshot | None = None
    messages: list[Message] = field(default_factory=list)
    replies: list[ClientReply] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    # Log index up to which the stored log may be compacted (a local snapshot was taken).
    compact_to: int = 0

    def empty(self) -> bool:
        return not (
            self.hard_state
            or self.entries
            or self.snapshot
            or self.messages
            or self.replies
            or self.events
            or self.compact_to
        )


@dataclass
class PersistentState:
    """What storage hands back to the core on start-up."""

    hard_state: HardState = field(default_factory=HardState)
    snapshot: Snapshot | None = None
    entries: list[Entry] = field(default_factory=list)  # after the snapshot, in order


@dataclass(frozen=True)
class NodeConfig:
    """Tuning of one node's core, in logical ticks (the runtime ticks every `tick_ms`).

    `bugs` are the planted bugs switched on (`raftnode.bugs.BugFlags`; names such as
    `{"stale-read"}` are accepted and validated); empty means a correct node. Code asks
    about one with `has(Bug.X)`. `seed` seeds the election-timeout randomness (None: from
    the OS). `tick_ms` only turns ticks into wall time for the `lease-read` bug's lease.
    `max_append_entries` caps the entries in one AppendEntries message (batching without
    unbounded messages)."""

    election_ticks: int = 30
    heartbeat_ticks: int = 5
    snapshot_every: int = 1000
    request_timeout_ticks: int = 300
    bugs: BugFlags = BugFlags()
    seed: int | None = None
    tick_ms: int = 10
    max_append_entries: int = 256

    def __post_init__(self) -> None:
        if self.election_ticks < 2 or self.heartbeat_ticks < 1:
            raise ValueError("election_ticks must be >= 2 and heartbeat_ticks >= 1")
        if self.heartbeat_ticks >= self.election_ticks:
            raise ValueError("heartbeat_ticks must be smaller than election_ticks")
        if self.snapshot_every < 1 or self.request_timeout_ticks < 1 or self.max_append_entries < 1:
            raise ValueError(
                "snapshot_every, request_timeout_ticks, max_append_entries must be >= 1"
            )
        object.__setattr__(self, "bugs", BugFlags.parse(self.bugs))

    def has(self, bug: Bug) -> bool:
        """Whether planted bug `bug` is on: the one place the core asks (BugFlags.has,
        inlined: this runs on the core's hot paths)."""
        return bug in self.bugs.on

    @property
    def lease_ns(self) -> int:
        """The lease-read bug's lease: one election timeout, in wall-clock nanoseconds."""
        return self.election_ticks * self.tick_ms * 1_000_000
