"""Durable storage for a raftnode: a checksummed write-ahead log plus an atomic snapshot file.

Layout of DATA_DIR:
- ``wal.log``: a sequence of records. Each record is an 8-byte header
  ``struct("<II", payload_length, crc32(payload))`` followed by a compact JSON payload:
  ``{"k":"e","t":term,"i":index,"c":command}`` (log entry),
  ``{"k":"h","t":term,"v":voted_for,"c":commit}`` (hard state),
  ``{"k":"x","i":index}`` (conflict truncation: entries >= index are gone).
  Replaying the records in order gives the durable log and hard state.
  The first record is always a header ``{"k":"w","v":1}``, made durable (atomic create)
  before anything else is written, so a readable WAL never starts with a torn record.
- ``snapshot.bin``: one record of the same shape whose payload is ``Snapshot.to_json()``,
  replaced atomically (temp file + fsync + rename + fsync of the directory).

Why this shape: appends are sequential and one ``save()`` costs exactly one ``write`` and one
``fdatasync`` however many entries it carries (group commit lives in the runtime, which batches
everything that arrived during the previous save into the next). Truncation is a record rather
than a rewrite so the hot path never rewrites the file; ``compact()`` rewrites the WAL (temp +
rename) keeping only what follows the snapshot, so the file does not grow without bound.

Crash semantics on ``load()``: a torn or corrupt *tail* (a partial last record, or bad records
with nothing valid after them) *after valid records* is what a crash between ``write`` and
``fsync`` leaves behind; it was never acknowledged, so it is cut off and logged. Everything
else is state a crash cannot lose, and the node must not guess: ``StorageCorrupt`` names the
file (and offset) and the node refuses to start. That covers a bad record followed by a valid
one (the disk lied or someone edited the file), a WAL that is empty, all garbage or unreadable
from its first record (the header is durable before anything else, so no crash tears it), a
WAL missing while ``snapshot.bin`` or ``events.jsonl`` shows the node ran here, a term that
goes backwards (hard state or log), and a log that starts after a gap (``snapshot.bin``
deleted with the WAL kept). Starting anyway would forget the term and vote (a second vote in
the same term) or acknowledged entries; the fix is to restore the file or to delete the whole
data dir, after which the node rejoins empty and the leader catches it up.

One crash window is repaired rather than refused: ``snapshot.bin`` is renamed into place
before the WAL is rewritten, so a crash between them leaves the old WAL, whose log can
diverge from the new snapshot (a different term at its index). Loading then does what the
install did, drops that log, and rewrites the WAL.

With ``fsync=False`` (the planted ``no-fsync`` bug) records are kept in a user-space buffer and
only handed to the OS by ``flush()``, which the runtime calls lazily; a SIGKILL then loses
writes that were already acknowledged (the page cache would survive kill -9, a buffer does not).
"""

from __future__ import annotations

import json
import logging
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from raftnode.core.types import Entry, HardState, PersistentState, Snapshot

log = logging.getLogger("raftnode.storage")

HEADER = struct.Struct("<II")
MAX_RECORD = 256 * 1024 * 1024  # a bigger length field is corruption, not a record
WAL_NAME = "wal.log"
SNAPSHOT_NAME = "snapshot.bin"
EVENTS_NAME = "events.jsonl"  # written by raftnode.eventlog; here only as evidence the node ran
WAL_HEADER = {"k": "w", "v": 1}
# Rewrite the WAL on its own once dead records (old hard states, truncated entries) dominate.
AUTO_COMPACT_MIN_BYTES = 32 * 1024 * 1024


class StorageCorrupt(Exception):
    """The data directory holds damage that a crash cannot explain; refuse to start."""


_FIX = "restore it, or delete the whole data dir so the node rejoins empty"


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def encode_record(payload: dict[str, Any]) -> bytes:
    """Frame one payload: length + CRC32 header, then the JSON bytes."""
    body = _dumps(payload)
    return HEADER.pack(len(body), zlib.crc32(body)) + body


def _entry_record(entry: Entry) -> bytes:
    return encode_record({"k": "e", "t": entry.term, "i": entry.index, "c": entry.command})


def _hard_state_record(hs: HardState) -> bytes:
    return encode_record({"k": "h", "t": hs.term, "v": hs.voted_for, "c": hs.commit})


@dataclass
class _Parsed:
    """The outcome of scanning a byte string for records."""

    records: list[tuple[int, dict[str, Any]]]  # (offset, payload)
    valid_end: int  # offset just past the last good record of the valid prefix
    bad_offset: int | None  # first offset where the prefix stopped being valid
    reason: str = ""


def _record_at(data: bytes | memoryview, off: int) -> tuple[dict[str, Any] | None, str]:
    """Decode the record at `off`; (payload, "") or (None, why not)."""
    if off + HEADER.size > len(data):
        return None, "partial header"
    length, crc = HEADER.unpack_from(data, off)
    if length == 0 or length > MAX_RECORD:
        return None, f"bad length {length}"
    end = off + HEADER.size + length
    if end > len(data):
        return None, "partial record"
    body = bytes(data[off + HEADER.size : end])
    if zlib.crc32(body) != crc:
        return None, "checksum mismatch"
    try:
        payload = json.loads(body)
    except ValueError:
        return None, "undecodable payload"
    if not isinstance(payload, dict):
        return None, "payload is not an object"
    return payload, ""


def _valid_record_after(data: bytes, start: int) -> int | None:
    """Offset of the first valid record starting anywhere at or after `start`, if any.

    Used only once a bad record was found, to tell a torn tail (nothing valid after)
    from a corrupt middle (real records after the damage)."""
    for off in range(start, len(data) - HEADER.size):
        payload, _ = _record_at(data, off)
        if payload is not None and "k" in payload:
            return off
    return None


def parse_records(data: bytes) -> _Parsed:
    """Split `data` into its valid prefix of records and report where it stopped."""
    records: list[tuple[int, dict[str, Any]]] = []
    off = 0
    while off < len(data):
        payload, why = _record_at(data, off)
        if payload is None:
            return _Parsed(records, off, off, why)
        records.append((off, payload))
        off += HEADER.size + HEADER.unpack_from(data, off)[0]
    return _Parsed(records, off, None)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so a crash leaves either the old or the new file, never half."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


class Storage:
    """The WAL and snapshot of one node. Not thread-safe: the runtime calls it from one thread."""

    def __init__(self, data_dir: Path, *, fsync: bool = True) -> None:
        self.data_dir = data_dir
        self.fsync = fsync
        self.wal_path = data_dir / WAL_NAME
        self.snapshot_path = data_dir / SNAPSHOT_NAME
        self._fd: int | None = None
        self._loaded = False
        self._hs = HardState()
        self._hs_record = b""
        self._snapshot: Snapshot | None = None
        self._first_index = 1  # index of self._records[0]
        self._records: list[bytes] = []  # encoded entry records, contiguous
        self._terms: list[int] = []
        self._written = 0  # bytes of wal.log handed to the OS
        self._synced = 0  # bytes of wal.log known durable
        self._pending = bytearray()  # no-fsync mode: not yet handed to the OS

    # -- opening and loading -------------------------------------------------------------

    @classmethod
    def open(cls, data_dir: str | os.PathLike[str], *, fsync: bool = True) -> Storage:
        """Bind to DATA_DIR (created if missing); call `load()` before `save()`."""
        path = Path(data_dir)
        path.mkdir(parents=True, exist_ok=True)
        return cls(path, fsync=fsync)

    def load(self, *, repair: bool = True) -> PersistentState:
        """Read snapshot and WAL; cut a torn tail (when `repair`); raise StorageCorrupt on
        state a crash cannot lose (module docstring). `repair=False` reads without touching
        the files (for dump)."""
        self._snapshot = self._load_snapshot()
        if repair:
            tmp = self.wal_path.with_name(WAL_NAME + ".tmp")
            if tmp.exists():
                tmp.unlink()  # an interrupted compaction; the old wal.log is intact
        if self.wal_path.exists():
            parsed = self._scan_wal(repair)
        else:
            self._refuse_missing_wal()
            if repair:  # a fresh data dir: the header is durable before anything else
                _atomic_write(self.wal_path, encode_record(WAL_HEADER))
            parsed = _Parsed([], self.wal_path.stat().st_size if repair else 0, None)
        diverged = self._replay(parsed.records)
        self._written = self._synced = parsed.valid_end
        self._loaded = True
        if repair and diverged:
            self._rewrite_wal()  # make the install's decision durable before any append
        elif repair:
            self._open_fd()
        return self.state()

    def _scan_wal(self, repair: bool) -> _Parsed:
        """Parse wal.log; cut (or, without `repair`, ignore) a torn tail after valid records,
        refuse anything else."""
        data = self.wal_path.read_bytes()
        parsed = parse_records(data)
        if parsed.bad_offset is None:
            if not parsed.records:
                raise StorageCorrupt(
                    f"{self.wal_path}: empty (no record at offset 0): the log, term and vote "
                    f"are lost; {_FIX}"
                )
            return parsed
        after = _valid_record_after(data, parsed.bad_offset + 1)
        if not parsed.records:
            follows = f", a valid record follows at offset {after}" if after is not None else ""
            raise StorageCorrupt(
                f"{self.wal_path}: no readable record at offset 0 ({parsed.reason}, "
                f"{len(data)} bytes{follows}): the log, term and vote are lost; {_FIX}"
            )
        if after is not None:
            raise StorageCorrupt(
                f"{self.wal_path}: corrupt record at offset {parsed.bad_offset} "
                f"({parsed.reason}) followed by a valid record at offset {after}"
            )
        log.warning(
            "%s: %s torn tail at offset %d (%s, %d bytes)",
            self.wal_path,
            "cutting" if repair else "ignoring",
            parsed.bad_offset,
            parsed.reason,
            len(data) - parsed.valid_end,
        )
        if repair:
            os.truncate(self.wal_path, parsed.valid_end)
        return parsed

    def _refuse_missing_wal(self) -> None:
        """No wal.log: a fresh data dir, unless something shows the node ran here before."""
        evidence = []
        if self._snapshot is not None:
            evidence.append(f"{self.snapshot_path} (snapshot at entry {self._snapshot.index})")
        events = self.data_dir / EVENTS_NAME
        if events.exists() and events.stat().st_size > 0:
            evidence.append(f"{events} ({events.stat().st_size} bytes)")
        if evidence:
            raise StorageCorrupt(
                f"{self.wal_path}: missing, but {' and '.join(evidence)} show the node ran "
                f"here: its log, term and vote are lost; {_FIX}"
            )

    def _load_snapshot(self) -> Snapshot | None:
        tmp = self.snapshot_path.with_name(SNAPSHOT_NAME + ".tmp")
        if tmp.exists():
            tmp.unlink()  # never renamed: the previous snapshot is still the valid one
        if not self.snapshot_path.exists():
            return None
        data = self.snapshot_path.read_bytes()
        payload, why = _record_at(data, 0)
        if payload is None:
            raise StorageCorrupt(f"{self.snapshot_path}: corrupt snapshot at offset 0 ({why})")
        try:
            return Snapshot.from_json(payload)
        except (KeyError, TypeError, ValueError) as exc:
            raise StorageCorrupt(f"{self.snapshot_path}: malformed snapshot ({exc})") from exc

    def _replay(self, records: list[tuple[int, dict[str, Any]]]) -> bool:
        """Rebuild log and hard state from the records; True when the log diverged from the
        snapshot and was dropped (the install-then-crash window, module docstring)."""
        snap = self._snapshot
        self._first_index = (snap.index if snap else 0) + 1
        self._records, self._terms = [], []
        offsets: list[int] = []  # WAL offset of each live entry, for error messages
        at_snap: int | None = None  # term of the entry at the snapshot's index, if logged
        for off, rec in records:
            kind = rec.get("k")
            try:
                if kind == "e":
                    entry = Entry(term=int(rec["t"]), index=int(rec["i"]), command=rec.get("c"))
                    if snap is not None and entry.index == snap.index:
                        at_snap = entry.term
                    if self._replay_entry(entry, off):
                        del offsets[len(self._records) - 1 :]
                        offsets.append(off)
                elif kind == "h":
                    hs = HardState(int(rec["t"]), rec.get("v"), int(rec["c"]))
                    if hs.term < self._hs.term:
                        raise StorageCorrupt(
                            f"{self.wal_path}: term goes backwards at offset {off}: hard state "
                            f"of term {hs.term} after term {self._hs.term}; {_FIX}"
                        )
                    self._set_hard_state(hs)
                elif kind == "x":
                    index = int(rec["i"])
                    if snap is not None and index <= snap.index:
                        at_snap = None
                    self._cut_from(index)
                    del offsets[len(self._records) :]
                elif kind == "w":
                    if rec.get("v") != WAL_HEADER["v"]:
                        raise ValueError(f"unknown WAL format version {rec.get('v')!r}")
                else:
                    raise ValueError(f"unknown record kind {kind!r}")
            except (KeyError, TypeError, ValueError) as exc:
                raise StorageCorrupt(
                    f"{self.wal_path}: bad record at offset {off} ({exc})"
                ) from exc
        if snap is not None and at_snap is not None and at_snap != snap.term:
            log.warning(
                "%s: log diverges from %s at entry %d (term %d, snapshot term %d): dropping "
                "it, as installing the snapshot did before the crash",
                self.wal_path, self.snapshot_path, snap.index, at_snap, snap.term,
            )  # fmt: skip
            self._records, self._terms = [], []
            return True
        if snap is not None and self._terms and self._terms[0] < snap.term:
            raise StorageCorrupt(
                f"{self.wal_path}: term goes backwards at offset {offsets[0]}: entry "
                f"{self._first_index} of term {self._terms[0]} after the snapshot's term "
                f"{snap.term}; {_FIX}"
            )
        return False

    def _replay_entry(self, entry: Entry, off: int) -> bool:
        """Replay one entry record; False when the snapshot already covers it."""
        if entry.index < self._first_index:
            return False
        if entry.index != self.last_index + 1:
            if entry.index > self.last_index:
                self._refuse_gap(entry, off)
            self._cut_from(entry.index)  # tolerated: an overwrite implies truncation
        if self._terms and entry.term < self._terms[-1]:
            raise StorageCorrupt(
                f"{self.wal_path}: term goes backwards at offset {off}: entry {entry.index} "
                f"of term {entry.term} after one of term {self._terms[-1]}; {_FIX}"
            )
        self._records.append(_entry_record(entry))
        self._terms.append(entry.term)
        return True

    def _refuse_gap(self, entry: Entry, off: int) -> None:
        missing = f"entries {self.last_index + 1}..{entry.index - 1}"
        if self._records:
            raise StorageCorrupt(
                f"{self.wal_path}: gap in log at offset {off}: entry {entry.index} "
                f"after {self.last_index} ({missing} missing); {_FIX}"
            )
        covered = (
            f"{self.snapshot_path} ends at entry {self._snapshot.index}"
            if self._snapshot
            else f"there is no {self.snapshot_path}"
        )
        raise StorageCorrupt(
            f"{self.wal_path}: log starts at entry {entry.index} (offset {off}) but {covered}: "
            f"{missing} are missing (a deleted snapshot?); {_FIX}"
        )

    # -- views ---------------------------------------------------------------------------

    @property
    def last_index(self) -> int:
        return self._first_index + len(self._records) - 1

    @property
    def synced_bytes(self) -> int:
        """Bytes of wal.log that are durable (fsync mode) or handed to the OS (no-fsync)."""
        return self._synced

    def entries(self) -> list[Entry]:
        """The durable log after the snapshot, decoded."""
        out = []
        for raw in self._records:
            rec = json.loads(raw[HEADER.size :])
            out.append(Entry(term=rec["t"], index=rec["i"], command=rec["c"]))
        return out

    def state(self) -> PersistentState:
        return PersistentState(hard_state=self._hs, snapshot=self._snapshot, entries=self.entries())

    # -- mutation ------------------------------------------------------------------------

    def _set_hard_state(self, hs: HardState) -> bool:
        if hs == self._hs and self._hs_record:
            return False
        self._hs = hs
        self._hs_record = _hard_state_record(hs)
        return True

    def _cut_from(self, index: int) -> None:
        keep = max(0, index - self._first_index)
        del self._records[keep:]
        del self._terms[keep:]

    def _term_at(self, index: int) -> int | None:
        pos = index - self._first_index
        if 0 <= pos < len(self._terms):
            return self._terms[pos]
        if self._snapshot and index == self._snapshot.index:
            return self._snapshot.term
        return None

    def save(
        self,
        hard_state: HardState | None,
        entries: list[Entry],
        snapshot: Snapshot | None = None,
        *,
        sync: bool = True,
    ) -> bool:
        """Persist a Ready's durable part; with fsync on, it is on disk when this returns.
        With `sync=False` the records are written but not synced, and the return value says
        whether a later `sync()` is needed to make them durable (group commit across several
        batches: the runtime's disk thread saves every queued batch, then syncs once).

        `entries[0].index` may be at or below the last stored index: the stored log is cut
        there first (a truncate record). A snapshot replaces the log prefix it covers.

        A change of the commit index alone is written but not fsynced: nothing anyone was
        promised depends on it (a restarted node relearns the commit index from the leader, and
        a lower one only delays applying). It becomes durable with the next fsync. This halves
        the fsyncs of a loaded leader, which would otherwise sync once for the entries and once
        more for the commit that their acknowledgements cause."""
        if not self._loaded:
            raise RuntimeError("Storage.load() must be called before save()")
        rewrite = False
        if snapshot is not None:
            self._install_snapshot(snapshot)
            rewrite = True
        buf = bytearray()
        if entries:
            skip = 0
            while skip < len(entries) and entries[skip].index < self._first_index:
                skip += 1  # covered by the snapshot already
            entries = entries[skip:]
        if entries:
            first = entries[0].index
            if first <= self.last_index:
                self._cut_from(first)
                buf += encode_record({"k": "x", "i": first})
            elif first != self.last_index + 1:
                if self._records:
                    raise ValueError(f"log gap: saving entry {first} after {self.last_index}")
                self._first_index = first
            for entry in entries:
                rec = _entry_record(entry)
                self._records.append(rec)
                self._terms.append(entry.term)
                buf += rec
        need_sync = bool(buf)
        if hard_state is not None:
            before = self._hs
            if self._set_hard_state(hard_state):
                buf += self._hs_record
                need_sync = need_sync or (hard_state.term, hard_state.voted_for) != (
                    before.term,
                    before.voted_for,
                )
        if rewrite or self._should_auto_compact(len(buf)):
            self._rewrite_wal()
            return False
        if buf:
            self._append(bytes(buf), sync=need_sync and sync)
        return need_sync and not sync and self.fsync

    def _install_snapshot(self, snapshot: Snapshot) -> None:
        current = self._snapshot.index if self._snapshot else 0
        if snapshot.index <= current:
            return
        _atomic_write(self.snapshot_path, encode_record(snapshot.to_json()))
        if self._term_at(snapshot.index) == snapshot.term:
            drop = snapshot.index - self._first_index + 1
            del self._records[:drop]
            del self._terms[:drop]
        else:
            self._records, self._terms = [], []  # the snapshot supersedes a divergent log
        self._snapshot = snapshot
        self._first_index = snapshot.index + 1
        if self._hs.commit < snapshot.index:
            self._set_hard_state(HardState(self._hs.term, self._hs.voted_for, snapshot.index))

    def compact(self, upto_index: int) -> None:
        """Drop log entries <= `upto_index` (never beyond the durable snapshot) and rewrite
        the WAL so its size follows the live log, not the history."""
        if not self._loaded:
            raise RuntimeError("Storage.load() must be called before compact()")
        snap_index = self._snapshot.index if self._snapshot else 0
        upto = min(upto_index, snap_index)
        if upto >= self._first_index:
            drop = min(len(self._records), upto - self._first_index + 1)
            del self._records[:drop]
            del self._terms[:drop]
            self._first_index += drop
        self._rewrite_wal()

    def _should_auto_compact(self, adding: int) -> bool:
        size = self._written + len(self._pending) + adding
        if size < AUTO_COMPACT_MIN_BYTES:
            return False
        live = len(self._hs_record) + sum(len(r) for r in self._records)
        return size > 4 * live

    def _rewrite_wal(self) -> None:
        data = encode_record(WAL_HEADER) + self._hs_record + b"".join(self._records)
        self._close_fd()
        self._pending.clear()
        _atomic_write(self.wal_path, data)
        self._written = self._synced = len(data)
        self._open_fd()

    def _open_fd(self) -> None:
        if self._fd is None:
            self._fd = os.open(self.wal_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def _close_fd(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _write_all(self, data: bytes) -> None:
        assert self._fd is not None
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        self._written += len(data)

    def _append(self, data: bytes, *, sync: bool = True) -> None:
        if not self.fsync:
            self._pending += data
            return
        self._write_all(data)
        if sync:
            os.fdatasync(self._fd)  # type: ignore[arg-type]
            self._synced = self._written

    def sync(self) -> None:
        """Make everything written so far durable (one fdatasync). No-op for no-fsync."""
        if self.fsync and self._fd is not None and self._written > self._synced:
            os.fdatasync(self._fd)
            self._synced = self._written

    def flush(self) -> None:
        """no-fsync mode: hand buffered records to the OS (still no fsync). No-op otherwise."""
        if self._pending and self._fd is not None:
            data = bytes(self._pending)
            self._pending.clear()
            self._write_all(data)
            self._synced = self._written

    def close(self) -> None:
        """Flush what a clean shutdown should keep (also in no-fsync mode) and close."""
        if self._fd is not None:
            self.flush()
            self._close_fd()
