"""Message chaos on a node's outgoing peer links: the settings of POST /admin/network.

Why inside the node: blackhole routes and iptables cut or thin whole links, but Raft's
subtle failures (figure 8, a stale AppendEntries truncating a log) need single messages
duplicated, delayed and overtaken. TCP never does that, so the transport does it to its
own outgoing messages when told to (raftnode.transport.Transport.send).

Each field is a probability in [0, 1] per message, drawn independently: ``drop`` (never
sent), ``duplicate`` (sent twice), ``delay`` (queued ``delay_ms`` later), ``reorder``
(queued a random 0..``reorder_ms`` later, so later messages overtake it). ``peers``
limits the shaping to messages for those nodes (None: every peer). All zero: off.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

PROBABILITIES = ("drop", "duplicate", "delay", "reorder")
MAX_DELAY_MS = 60_000.0


@dataclass(frozen=True)
class NetworkChaos:
    drop: float = 0.0
    duplicate: float = 0.0
    delay: float = 0.0
    reorder: float = 0.0
    delay_ms: float = 100.0
    reorder_ms: float = 50.0
    peers: tuple[str, ...] | None = None

    @property
    def active(self) -> bool:
        return any(getattr(self, name) > 0 for name in PROBABILITIES)

    def applies_to(self, peer: str) -> bool:
        return self.peers is None or peer in self.peers

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["peers"] = None if self.peers is None else list(self.peers)
        return out

    @classmethod
    def parse(cls, body: Any) -> NetworkChaos:
        """Settings from a JSON object; ValueError naming the field when one is wrong.
        Missing fields take the defaults, so ``{}`` turns chaos off."""
        if not isinstance(body, dict):
            raise ValueError('want a JSON object like {"drop": 0.1, "duplicate": 0.05}')
        known = {*PROBABILITIES, "delay_ms", "reorder_ms", "peers"}
        unknown = sorted(set(body) - known)
        if unknown:
            raise ValueError(f"unknown field {unknown[0]!r} (known: {', '.join(sorted(known))})")
        values: dict[str, Any] = {}
        for name in PROBABILITIES:
            values[name] = parse_number(body.get(name, 0.0), name, 0.0, 1.0)
        for name in ("delay_ms", "reorder_ms"):
            if name in body:
                values[name] = parse_number(body[name], name, 0.0, MAX_DELAY_MS)
        peers = body.get("peers")
        if peers is not None:
            if not isinstance(peers, list) or not all(isinstance(p, str) for p in peers):
                raise ValueError("peers must be a list of node ids (or null for all)")
            values["peers"] = tuple(sorted(set(peers)))
        return cls(**values)


def parse_number(raw: Any, name: str, low: float, high: float) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise ValueError(f"{name} must be a number, not {raw!r}")
    if not low <= raw <= high:
        raise ValueError(f"{name} must be in [{low:g}, {high:g}], not {raw!r}")
    return float(raw)
