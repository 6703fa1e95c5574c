"""The command digest shared by events.jsonl, `raftnode dump` and the safety checkers.

Two nodes applied the same command at an index iff the digests agree, so the checkers can
compare logs without shipping whole commands around."""

from __future__ import annotations

import hashlib
import json
from typing import Any

_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no spaces: the one spelling every node agrees on."""
    return _CANONICAL.encode(obj)


def command_digest(command: dict[str, Any] | None) -> str:
    """First 16 hex chars of sha256 over the canonical JSON of `command` (`null` for a no-op)."""
    return hashlib.sha256(canonical_json(command).encode()).hexdigest()[:16]
