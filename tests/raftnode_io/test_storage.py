"""Storage: reload equals saved, torn tails are cut, a corrupt middle refuses, snapshots are
atomic and compaction bounds the WAL."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raftnode.core.types import Entry, HardState, Snapshot
from raftnode.storage import HEADER, SNAPSHOT_NAME, Storage, StorageCorrupt, parse_records


def _entries(first: int, last: int, term: int) -> list[Entry]:
    return [
        Entry(term=term, index=i, command={"op": "write", "key": f"k{i}", "value": i})
        for i in range(first, last + 1)
    ]


def _fresh(path: Path, **kw) -> Storage:
    st_ = Storage.open(path, **kw)
    st_.load()
    return st_


def _reload(path: Path):
    s = Storage.open(path)
    state = s.load()
    s.close()
    return state


def test_reload_equals_saved(tmp_path: Path) -> None:
    s = _fresh(tmp_path)
    s.save(HardState(1, "n1", 0), _entries(1, 5, 1))
    s.save(HardState(2, "n2", 3), _entries(6, 8, 2))
    s.close()
    state = _reload(tmp_path)
    assert state.hard_state == HardState(2, "n2", 3)
    assert [(e.index, e.term) for e in state.entries] == [
        (i, 1 if i <= 5 else 2) for i in range(1, 9)
    ]
    assert state.entries[3].command == {"op": "write", "key": "k4", "value": 4}
    assert state.snapshot is None


def test_truncation_is_durable(tmp_path: Path) -> None:
    s = _fresh(tmp_path)
    s.save(HardState(1, None, 0), _entries(1, 6, 1))
    s.save(HardState(3, None, 2), _entries(4, 5, 3))  # conflict: 4.. replaced
    s.close()
    state = _reload(tmp_path)
    assert [(e.index, e.term) for e in state.entries] == [(1, 1), (2, 1), (3, 1), (4, 3), (5, 3)]


def _last_record_offset(path: Path) -> int:
    parsed = parse_records(path.read_bytes())
    return parsed.records[-1][0]


def test_crash_between_write_and_fsync_every_offset(tmp_path: Path) -> None:
    """Cutting the file anywhere inside the last record loses exactly that record."""
    s = _fresh(tmp_path)
    s.save(HardState(1, "n1", 0), _entries(1, 3, 1))
    s.save(None, _entries(4, 4, 1))
    s.close()
    wal = tmp_path / "wal.log"
    full = wal.read_bytes()
    start = _last_record_offset(wal)
    for cut in range(start, len(full)):
        wal.write_bytes(full[:cut])
        state = _reload(tmp_path)
        assert [e.index for e in state.entries] == [1, 2, 3], cut
        assert state.hard_state == HardState(1, "n1", 0)
        assert wal.stat().st_size == start  # the torn bytes were cut off
    wal.write_bytes(full)
    assert [e.index for e in _reload(tmp_path).entries] == [1, 2, 3, 4]


def test_bad_checksum_in_tail_is_cut(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    s = _fresh(tmp_path)
    s.save(HardState(1, None, 0), _entries(1, 3, 1))
    s.save(None, _entries(4, 4, 1))
    s.close()
    wal = tmp_path / "wal.log"
    data = bytearray(wal.read_bytes())
    data[-2] ^= 0xFF  # flip a byte inside the last record's payload
    wal.write_bytes(bytes(data))
    with caplog.at_level("WARNING"):
        state = _reload(tmp_path)
    assert [e.index for e in state.entries] == [1, 2, 3]
    assert "torn tail" in caplog.text
    # the node can keep writing after the repair and everything reloads
    s = _fresh(tmp_path)
    s.save(None, _entries(4, 5, 2))
    s.close()
    assert [(e.index, e.term) for e in _reload(tmp_path).entries][-2:] == [(4, 2), (5, 2)]


def test_garbage_appended_is_cut(tmp_path: Path) -> None:
    s = _fresh(tmp_path)
    s.save(HardState(1, None, 0), _entries(1, 2, 1))
    s.close()
    wal = tmp_path / "wal.log"
    with open(wal, "ab") as f:
        f.write(b"\x00" * 37 + b"garbage")
    assert [e.index for e in _reload(tmp_path).entries] == [1, 2]


@pytest.mark.parametrize("where", ["payload", "length", "crc"])
def test_corrupt_middle_refuses(tmp_path: Path, where: str) -> None:
    s = _fresh(tmp_path)
    s.save(HardState(1, None, 0), _entries(1, 3, 1))
    s.save(None, _entries(4, 6, 1))
    s.close()
    wal = tmp_path / "wal.log"
    parsed = parse_records(wal.read_bytes())
    off = parsed.records[2][0]
    data = bytearray(wal.read_bytes())
    pos = {"payload": off + HEADER.size + 3, "length": off + 1, "crc": off + 5}[where]
    data[pos] ^= 0x5A
    wal.write_bytes(bytes(data))
    before = wal.read_bytes()
    with pytest.raises(StorageCorrupt) as info:
        Storage.open(tmp_path).load()
    msg = str(info.value)
    assert str(wal) in msg and f"offset {off}" in msg
    assert wal.read_bytes() == before  # nothing was "repaired" away


def test_snapshot_replaces_prefix_and_survives(tmp_path: Path) -> None:
    s = _fresh(tmp_path)
    s.save(HardState(2, "n1", 10), _entries(1, 12, 2))
    snap = Snapshot(index=10, term=2, data={"kv": {"a": 1}}, peers=("n1", "n2"))
    s.save(None, [], snap)
    s.save(None, _entries(13, 14, 2))
    s.close()
    state = _reload(tmp_path)
    assert state.snapshot == snap
    assert [e.index for e in state.entries] == [11, 12, 13, 14]
    assert state.hard_state.commit == 10


def test_snapshot_divergent_log_discarded(tmp_path: Path) -> None:
    s = _fresh(tmp_path)
    s.save(HardState(1, None, 0), _entries(1, 5, 1))
    s.save(HardState(3, None, 8), [], Snapshot(index=8, term=3, data={}))
    s.save(None, _entries(9, 9, 3))
    s.close()
    state = _reload(tmp_path)
    assert state.snapshot is not None and state.snapshot.index == 8
    assert [e.index for e in state.entries] == [9]


def test_snapshot_write_is_atomic(tmp_path: Path) -> None:
    """A crash while writing a new snapshot (leftover temp file) keeps the old one."""
    s = _fresh(tmp_path)
    s.save(HardState(1, None, 4), _entries(1, 6, 1))
    s.save(None, [], Snapshot(index=4, term=1, data={"v": 1}))
    s.close()
    good = (tmp_path / SNAPSHOT_NAME).read_bytes()
    (tmp_path / (SNAPSHOT_NAME + ".tmp")).write_bytes(good[:7])  # torn temp file
    state = _reload(tmp_path)
    assert state.snapshot is not None and state.snapshot.data == {"v": 1}
    assert not (tmp_path / (SNAPSHOT_NAME + ".tmp")).exists()
    # a damaged *renamed* snapshot is real corruption
    (tmp_path / SNAPSHOT_NAME).write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    with pytest.raises(StorageCorrupt, match="snapshot"):
        Storage.open(tmp_path).load()


def test_compaction_bounds_the_wal(tmp_path: Path) -> None:
    s = _fresh(tmp_path)
    size_after = []
    for round_ in range(5):
        base = round_ * 200
        for i in range(base + 1, base + 201, 20):
            s.save(HardState(1, "n1", i), _entries(i, i + 19, 1))
        s.save(None, [], Snapshot(index=base + 190, term=1, data={"round": round_}))
        s.compact(base + 190)
        size_after.append(os.path.getsize(tmp_path / "wal.log"))
    s.close()
    assert max(size_after) - min(size_after) < 20  # 10 live entries each round: size is flat
    state = _reload(tmp_path)
    assert [e.index for e in state.entries] == list(range(991, 1001))
    assert state.hard_state.commit == 990  # a snapshot implies its index is committed


def test_compact_never_passes_the_snapshot(tmp_path: Path) -> None:
    s = _fresh(tmp_path)
    s.save(HardState(1, None, 0), _entries(1, 10, 1))
    s.compact(8)  # no snapshot yet: nothing may be dropped
    s.close()
    assert len(_reload(tmp_path).entries) == 10


def test_no_fsync_buffers_until_flush(tmp_path: Path) -> None:
    s = _fresh(tmp_path, fsync=False)
    header = os.path.getsize(tmp_path / "wal.log")  # written when the WAL was created
    s.save(HardState(1, None, 0), _entries(1, 3, 1))
    # simulate SIGKILL: nothing was handed to the OS yet
    assert _reload(tmp_path).entries == []
    assert s.synced_bytes == header == os.path.getsize(tmp_path / "wal.log")
    s.flush()
    assert [e.index for e in _reload(tmp_path).entries] == [1, 2, 3]
    assert s.synced_bytes == os.path.getsize(tmp_path / "wal.log")
    s.close()


def test_synced_bytes_tracks_file(tmp_path: Path) -> None:
    s = _fresh(tmp_path)
    s.save(HardState(1, None, 0), _entries(1, 2, 1))
    assert s.synced_bytes == os.path.getsize(tmp_path / "wal.log") > 0
    s.close()


@settings(max_examples=40, deadline=None)
@given(
    ops=st.lists(
        st.tuples(st.integers(min_value=0, max_value=4), st.integers(min_value=1, max_value=5)),
        min_size=1,
        max_size=25,
    )
)
def test_reload_equals_model(tmp_path_factory: pytest.TempPathFactory, ops) -> None:
    """Random appends with conflict overwrites: reload equals an in-memory model."""
    path = tmp_path_factory.mktemp("wal")
    s = _fresh(path)
    model: list[Entry] = []
    term = 1
    for back, count in ops:
        term += 1
        first = max(1, len(model) + 1 - back)
        new = _entries(first, first + count - 1, term)
        model = model[: first - 1] + new
        s.save(HardState(term, None, 0), new)
    s.close()
    state = _reload(path)
    assert state.entries == model
    assert state.hard_state.term == term


def test_commit_only_change_skips_fsync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Entries, term and vote are synced; a commit-index-only change is written unsynced
    and becomes durable with the next sync."""
    calls: list[int] = []
    real = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: (calls.append(fd), real(fd))[1])
    s = _fresh(tmp_path)
    s.save(HardState(1, "n1", 0), _entries(1, 2, 1))
    assert len(calls) == 1
    s.save(HardState(1, "n1", 2), [])  # commit advanced only
    assert len(calls) == 1
    assert s.synced_bytes < os.path.getsize(tmp_path / "wal.log")
    s.save(HardState(2, None, 2), [])  # new term: must be durable
    assert len(calls) == 2
    assert s.synced_bytes == os.path.getsize(tmp_path / "wal.log")
    s.close()
    assert _reload(tmp_path).hard_state == HardState(2, None, 2)


def test_deferred_sync_for_group_commit(tmp_path: Path) -> None:
    s = _fresh(tmp_path)
    header = s.synced_bytes  # the WAL header, durable since the WAL was created
    assert s.save(HardState(1, "n1", 0), _entries(1, 3, 1), sync=False) is True
    assert s.save(None, _entries(4, 5, 1), sync=False) is True
    assert s.synced_bytes == header < os.path.getsize(tmp_path / "wal.log")
    s.sync()
    assert s.synced_bytes == os.path.getsize(tmp_path / "wal.log")
    assert s.save(HardState(1, "n1", 5), [], sync=False) is False  # commit only: no sync owed
    s.close()
    assert [e.index for e in _reload(tmp_path).entries] == [1, 2, 3, 4, 5]


# -- refusing to start on lost state (issue 11, item 2) ----------------------------------
# A crash only ever tears the *end* of the WAL after valid records; anything else means
# the disk or an operator lost state, and a node that started anyway would forget its
# term and vote (a double vote) or acknowledged entries. Each case must refuse with the
# file and, where there is one, the offset; nothing may be "repaired" away.


def _compacted(path: Path) -> None:
    """A data dir holding a snapshot at 10 and the WAL after it (entries 11..14)."""
    s = _fresh(path)
    s.save(HardState(2, "n1", 10), _entries(1, 14, 2))
    s.save(None, [], Snapshot(index=10, term=2, data={"kv": {}}))
    s.compact(10)
    s.close()


def _refuses(path: Path, *needles: str) -> str:
    before = {p.name: p.read_bytes() for p in path.iterdir() if p.is_file()}
    with pytest.raises(StorageCorrupt) as info:
        Storage.open(path).load()
    msg = str(info.value)
    assert "\n" not in msg
    for needle in needles:
        assert needle in msg, (needle, msg)
    after = {p.name: p.read_bytes() for p in path.iterdir() if p.is_file()}
    assert after == before  # refused without touching anything
    return msg


@pytest.mark.parametrize("damage", ["missing", "empty", "garbage"])
def test_wal_lost_beside_a_snapshot_refuses(tmp_path: Path, damage: str) -> None:
    _compacted(tmp_path)
    wal = tmp_path / "wal.log"
    if damage == "missing":
        wal.unlink()
        _refuses(tmp_path, str(wal), "missing", SNAPSHOT_NAME)
    elif damage == "empty":
        wal.write_bytes(b"")
        _refuses(tmp_path, str(wal), "offset 0")
    else:
        wal.write_bytes(os.urandom(3000))
        _refuses(tmp_path, str(wal), "offset 0")


def test_wal_whose_only_record_is_unreadable_refuses(tmp_path: Path) -> None:
    """A WAL holding one record (the hard state) with a flipped byte: not a torn tail."""
    s = _fresh(tmp_path)
    s.save(HardState(3, "n2", 0), [])
    s.close()
    wal = tmp_path / "wal.log"
    data = bytearray(wal.read_bytes())
    data[HEADER.size + 2] ^= 0x40
    wal.write_bytes(bytes(data))
    _refuses(tmp_path, str(wal), "offset 0")


def test_wal_missing_after_the_node_ran_refuses(tmp_path: Path) -> None:
    """No snapshot, but events.jsonl shows the node ran (and maybe voted) here before."""
    s = _fresh(tmp_path)
    s.save(HardState(3, "n2", 0), [])
    s.close()
    (tmp_path / "events.jsonl").write_text('{"ev":"vote","for":"n2","term":3}\n')
    (tmp_path / "wal.log").unlink()
    _refuses(tmp_path, "wal.log", "missing", "events.jsonl")


def test_term_going_backwards_refuses(tmp_path: Path) -> None:
    from raftnode.storage import encode_record

    wal = tmp_path / "wal.log"
    hard = [{"k": "h", "t": 5, "v": "n1", "c": 0}, {"k": "h", "t": 3, "v": None, "c": 0}]
    wal.write_bytes(b"".join(encode_record(r) for r in hard))
    second = len(encode_record(hard[0]))
    _refuses(tmp_path, str(wal), f"offset {second}", "term")
    entries = [{"k": "e", "t": 4, "i": 1, "c": None}, {"k": "e", "t": 2, "i": 2, "c": None}]
    wal.write_bytes(b"".join(encode_record(r) for r in entries))
    _refuses(tmp_path, str(wal), f"offset {len(encode_record(entries[0]))}", "term")


def test_snapshot_deleted_with_wal_kept_refuses(tmp_path: Path) -> None:
    _compacted(tmp_path)
    (tmp_path / SNAPSHOT_NAME).unlink()
    _refuses(tmp_path, str(tmp_path / "wal.log"), "entry 11", SNAPSHOT_NAME)


def test_fresh_dir_starts_and_a_torn_first_write_is_still_a_torn_tail(tmp_path: Path) -> None:
    """An empty data dir starts; the WAL then begins with a header record made durable
    before anything else, so a crash in the node's first real write is a torn tail after a
    valid record (cut), never an unreadable first record."""
    assert _reload(tmp_path).entries == []
    s = _fresh(tmp_path)
    header = (tmp_path / "wal.log").stat().st_size
    assert header > 0
    s.save(HardState(1, "n1", 0), _entries(1, 2, 1))
    s.close()
    wal = tmp_path / "wal.log"
    wal.write_bytes(wal.read_bytes()[: header + 5])  # the first save torn
    state = _reload(tmp_path)
    assert state.entries == [] and state.hard_state == HardState()
    assert wal.stat().st_size == header


def test_crash_between_snapshot_install_and_wal_rewrite(tmp_path: Path) -> None:
    """snapshot.bin is renamed into place before the WAL is rewritten: a crash between the
    two leaves the old WAL, whose log diverges from the snapshot. Loading must do what the
    install did (drop that log), not call its lower terms corruption."""
    s = _fresh(tmp_path)
    s.save(HardState(2, None, 0), _entries(1, 8, 2))
    s.close()
    old_wal = (tmp_path / "wal.log").read_bytes()
    s = _fresh(tmp_path)
    s.save(HardState(3, None, 6), [], Snapshot(index=6, term=3, data={"v": 1}))
    s.close()
    (tmp_path / "wal.log").write_bytes(old_wal)  # the rewrite never happened
    state = _reload(tmp_path)
    assert state.snapshot is not None and state.snapshot.index == 6
    assert state.entries == []
    assert _reload(tmp_path).entries == []  # and the decision is durable
