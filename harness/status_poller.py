"""The status poller: node evidence for DBs that do not write raftnode-style events.

raftnode writes `events.jsonl` itself (docs/interfaces.md §3), which is what the Raft
safety checker reads. Other Raft systems (etcd, …) only answer status queries. For a DB
whose ``poll_status`` attribute is true, the runner starts this poller once the cluster
is healthy and stops it before the logs are collected: one thread per node asks
``db.probe(node)`` every ``interval_s`` and appends, in the same events format, to
``<store>/nodes/<node>/events.jsonl``:

- ``role`` (with ``term``) whenever the node's (role, term) changes;
- ``vote`` (``for``) whenever the probe names whom the node voted for in its term
  (``Probe.raw["voted_for"]``) and that changed;
- ``commit`` (``index``) whenever its commit index advances.

So "at most one leader per term" (and "no node votes twice in a term") are checked on
such a DB, from samples: a leadership shorter than the interval can be missed, but
what is recorded is what the node said. Alongside, ``<store>/nodes/evidence.json``
names the source and the DB's ``evidence_limits`` ({property: why it cannot be
checked}), which the checker reports as "not checkable" (checkers/raft_safety.py).

``start_status_poller`` also writes ``<store>/db.json`` (the DB's name and, when it has
a ``version()``, its version), which results.json carries as ``db``/``db_version``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from harness.core.protocols import PolledStatus, Probe, SupportsVersion

log = logging.getLogger("splitbrain")

DEFAULT_INTERVAL_S = 0.1
EVIDENCE_FILE = "evidence.json"
DB_INFO_FILE = "db.json"


@dataclass
class _NodeTrack:
    """What was last written for one node, so only changes become events."""

    role: tuple[str, int] | None = None
    vote: tuple[int, str] | None = None
    commit: int = 0
    events: int = 0
    probes: int = 0
    answered: int = 0


def events_for(node: str, probe: Probe, track: _NodeTrack, now_ns: int) -> list[dict[str, Any]]:
    """The events one probe adds (pure: `track` is updated to what they record)."""
    if not probe.reachable or probe.term is None:
        return []
    term = int(probe.term)
    out: list[dict[str, Any]] = []
    base = {"t": now_ns, "node": node, "term": term}
    if probe.role and track.role != (probe.role, term):
        track.role = (probe.role, term)
        out.append({**base, "ev": "role", "role": probe.role})
    voted = (probe.raw or {}).get("voted_for")
    if voted and track.vote != (term, str(voted)):
        track.vote = (term, str(voted))
        out.append({**base, "ev": "vote", "for": str(voted)})
    if probe.commit_index is not None and probe.commit_index > track.commit:
        track.commit = int(probe.commit_index)
        out.append({**base, "ev": "commit", "index": track.commit})
    return out


@dataclass
class StatusPoller:
    """Polls every node of `db` in its own thread until stop()."""

    db: Any
    nodes: list[str]
    out_dir: Path
    interval_s: float = DEFAULT_INTERVAL_S
    probe_timeout_s: float = 0.5
    tracks: dict[str, _NodeTrack] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> StatusPoller:
        for node in self.nodes:
            self.tracks[node] = _NodeTrack()
            path = self.out_dir / node / "events.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            thread = threading.Thread(
                target=self._run, args=(node, path), name=f"status-{node}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def _run(self, node: str, path: Path) -> None:
        track = self.tracks[node]
        with open(path, "a", encoding="utf-8") as stream:
            while not self._stop.is_set():
                started = time.monotonic()
                self._sample(node, track, stream)
                self._stop.wait(max(self.interval_s - (time.monotonic() - started), 0.0))
            self._sample(node, track, stream)  # the state at the end, too

    def _sample(self, node: str, track: _NodeTrack, stream: TextIO) -> None:
        track.probes += 1
        try:
            probe = self.db.probe(node, timeout=self.probe_timeout_s)
        except Exception:  # noqa: BLE001 - a failing probe is a node that did not answer
            return
        track.answered += probe.reachable
        for event in events_for(node, probe, track, time.time_ns()):
            stream.write(json.dumps(event, separators=(",", ":")) + "\n")
            track.events += 1
        stream.flush()

    def stop(self) -> dict[str, dict[str, int]]:
        """Stop and join every thread (idempotent); per node: probes, answered, events."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.probe_timeout_s + 5.0)
        self._threads = []
        return {
            n: {"probes": t.probes, "answered": t.answered, "events": t.events}
            for n, t in self.tracks.items()
        }


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")


def db_info(db: Any) -> dict[str, Any]:
    """{"name", "version"?} of a DB (version() is optional and best effort)."""
    info: dict[str, Any] = {"name": db.name}
    if isinstance(db, SupportsVersion):
        try:
            found = db.version()
        except Exception as exc:  # noqa: BLE001 - a version we cannot learn is not fatal
            log.warning("db version: %s", exc)
            found = None
        if found:
            info["version"] = str(found)
    return info


def start_status_poller(ctx: Any, interval_s: float = DEFAULT_INTERVAL_S) -> StatusPoller | None:
    """The runner's hook after wait-healthy: record db.json, and start polling when the
    DB asks for it (``poll_status``). Never fails the test: problems are logged."""
    try:
        _write_json(Path(ctx.store_dir) / DB_INFO_FILE, db_info(ctx.db))
        if not (isinstance(ctx.db, PolledStatus) and ctx.db.poll_status is True):
            return None
        out = Path(ctx.store_dir) / "nodes"
        _write_json(
            out / EVIDENCE_FILE,
            {
                "source": "harness.status_poller (sampled db.probe)",
                "db": ctx.db.name,
                "interval_s": interval_s,
                "events": ["role", "vote", "commit"],
                "not_checkable": dict(ctx.db.evidence_limits),
                "notes": {
                    "election-safety": f"from status samples every {interval_s:g} s: a "
                    "leadership shorter than that can be missed"
                },
            },
        )
        poller = StatusPoller(ctx.db, list(ctx.nodes), out, interval_s).start()
        log.info("status poller: every %g s on %s", interval_s, ", ".join(ctx.nodes))
        return poller
    except Exception as exc:  # noqa: BLE001 - evidence is optional; the test goes on
        log.warning("status poller not started: %s", exc)
        return None


def stop_status_poller(poller: StatusPoller | None) -> None:
    """Stop a poller (None and repeated calls are fine) and log what it saw."""
    if poller is None or not poller._threads:
        return
    counts = poller.stop()
    log.info(
        "status poller stopped: %s",
        ", ".join(f"{n} {c['events']} events/{c['answered']} answers" for n, c in counts.items()),
    )
