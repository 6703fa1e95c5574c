"""`python -m raftnode dump DATA_DIR [--json]`: print the durable log and hard state.

Reads the data dir without repairing it (a torn tail is reported, not cut), so it is safe to
run against a live node or a crashed node's directory kept as evidence.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO

from raftnode.core.digest import command_digest as digest  # the digest the events use
from raftnode.storage import Storage


def dump_data(data_dir: Path) -> dict[str, Any]:
    """The durable state of DATA_DIR as the `--json` document. Raises StorageCorrupt."""
    state = Storage.open(data_dir).load(repair=False)
    hs = state.hard_state
    return {
        "hard_state": {"term": hs.term, "voted_for": hs.voted_for, "commit": hs.commit},
        "snapshot": (
            {"index": state.snapshot.index, "term": state.snapshot.term} if state.snapshot else None
        ),
        "entries": [
            {"index": e.index, "term": e.term, "digest": digest(e.command), "command": e.command}
            for e in state.entries
        ],
    }


def print_dump(doc: dict[str, Any], out: TextIO, *, as_json: bool) -> None:
    if as_json:
        json.dump(doc, out, indent=None, separators=(",", ":"))
        out.write("\n")
        return
    hs = doc["hard_state"]
    out.write(f"hard state: term={hs['term']} voted_for={hs['voted_for']} commit={hs['commit']}\n")
    snap = doc["snapshot"]
    snap_text = f"index={snap['index']} term={snap['term']}" if snap else "none"
    out.write(f"snapshot:   {snap_text}\n")
    out.write(f"entries:    {len(doc['entries'])}\n")
    for e in doc["entries"]:
        cmd = json.dumps(e["command"], sort_keys=True, separators=(",", ":"))
        if len(cmd) > 200:  # the table is for eyes; --json has the whole command
            cmd = cmd[:197] + "..."
        out.write(f"{e['index']:>8} t{e['term']:<5} {e['digest']}  {cmd}\n")
