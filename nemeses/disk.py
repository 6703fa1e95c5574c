"""Disk faults: damage a stopped node's WAL past its last reported fsync, then restart.

start-disk {target, corrupt: truncate|flip}:
1. ask the node for wal_synced_bytes (GET /status), then SIGKILL it;
2. keep a copy of the WAL (in memory and as <wal>.sb-orig on the host);
3. `truncate`: cut the file at a random point in [synced, size]; `flip`: flip one bit
   of a byte in the unsynced tail (or the last 64 bytes when everything was synced);
4. restart it and report whether it came back ("recovered") or refused to start
   ("refused", raftnode exits 3 on a corrupt data dir).
stop-disk: a refused node gets its original WAL back and is restarted. A recovered
node is left alone: it has moved on from the damaged file, restoring it would be a
second fault.

The fault simulates what losing un-fsynced data does; a correct node must refuse or
recover, never silently serve a shortened acknowledged history (the checkers judge).

start-disk {target, delay_ms, jitter_ms, leader_ms} (the `slow` mode, chosen by any of
them): the targets' fsyncs are acknowledged `delay_ms` + random 0..`jitter_ms` late, and
`leader_ms` later still while the node leads, through the
DB's SupportsDiskDelay hook (raftnode's POST /admin/disk; the DB keeps it across
restarts). Nothing is lost: a slow disk only reorders who has an entry durable first,
which is what figure 8 needs — followers holding an entry the leader has not persisted.
stop-disk turns it off on every node it was turned on for.
"""

from __future__ import annotations

from typing import Any

from harness.core.protocols import RunContext, SupportsDiskDelay, SupportsWalPath, disk_delayer
from nemeses.base import NemesisError, host_of, log, wait_until
from nemeses.fault import Fault, is_running, with_note

MODES = ("truncate", "flip")
SLOW = "slow"  # the mode name in results; selected by delay_ms / jitter_ms
SLOW_FIELDS = ("delay_ms", "jitter_ms", "leader_ms")
FLIP_WINDOW = 64
COME_BACK_S = 20.0


class DiskNemesis(Fault):
    fault = "disk"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.saved: dict[str, tuple[str, bytes, str]] = {}  # node -> (wal, original, outcome)
        self.slowed: set[str] = set()

    @staticmethod
    def _db(ctx: RunContext) -> SupportsWalPath:
        if not isinstance(ctx.db, SupportsWalPath):
            raise NemesisError("disk needs a DB with a wal_path hook (raftnode)")
        return ctx.db

    @staticmethod
    def _delayer(ctx: RunContext) -> SupportsDiskDelay:
        delayer = disk_delayer(ctx.db)
        if delayer is None:
            raise NemesisError("disk's slow mode needs a DB with a delay_disk hook (raftnode)")
        return delayer

    def setup(self, ctx: RunContext) -> None:
        self._db(ctx)

    def start(self, value: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
        if any(f in value for f in SLOW_FIELDS):
            return self._start_slow(value, ctx)
        mode = value.get("corrupt", "truncate")
        if mode not in MODES:
            raise NemesisError(
                f"disk: unknown corrupt mode {mode!r} (expected one of {', '.join(MODES)})"
            )
        resolved = self.pick(value, ctx, self.running_free(ctx))
        if not resolved.nodes:
            return with_note({"nodes": [], "mode": mode}, resolved)
        node = resolved.nodes[0]
        host = host_of(ctx, node)
        status = ctx.db.probe(node, timeout=3.0).raw or {}
        synced = status.get("wal_synced_bytes")
        wal = self._db(ctx).wal_path(node)
        self.claims.take(self.fault, [node])
        ctx.db.kill(node)
        if not wait_until(lambda: not is_running(ctx, node), 15.0):
            raise NemesisError(f"disk {node}: the node did not stop")
        original = host.read_file(wal)
        host.write_file(wal + ".sb-orig", original)
        size = len(original)
        synced_at = min(int(synced), size) if isinstance(synced, int) else size
        result: dict[str, Any] = {
            "node": node,
            "nodes": [node],
            "mode": mode,
            "wal": wal,
            "size": size,
            "synced_reported": synced,
        }
        if mode == "truncate":
            cut = self.rng.randint(synced_at, size)
            damaged = original[:cut]
            result.update(cut_at=cut, cut_bytes=size - cut)
            if cut == size:
                result["note"] = "nothing past the last reported fsync: file unchanged"
        else:
            low = synced_at if synced_at < size else max(0, size - FLIP_WINDOW)
            if size == 0:
                damaged = original
                result["note"] = "empty WAL: nothing to flip"
            else:
                pos, bit = self.rng.randrange(low, size), self.rng.randrange(8)
                buf = bytearray(original)
                buf[pos] ^= 1 << bit
                damaged = bytes(buf)
                result.update(flipped_at=pos, bit=bit)
        host.write_file(wal, damaged)
        outcome, start_error = self._restart_and_watch(ctx, node)
        result["outcome"] = outcome
        if start_error:
            result["start_error"] = start_error
        self.saved[node] = (wal, original, outcome)
        if outcome == "recovered":
            self._drop_backup(ctx, node, wal)
        log(ctx, f"disk {mode} on {node}: {outcome}")
        return with_note(result, resolved)

    def _start_slow(self, value: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
        if "corrupt" in value:
            raise NemesisError("disk: corrupt and a slow disk (delay_ms...) are separate modes")
        delayer = self._delayer(ctx)
        settings = {f: float(value.get(f, 0.0)) for f in SLOW_FIELDS}
        resolved = self.pick(value, ctx, list(ctx.nodes))
        for node in resolved.nodes:
            delayer.delay_disk(node, settings)
            self.slowed.add(node)
        log(ctx, f"disk slow on {', '.join(resolved.nodes) or 'nobody'}: {settings}")
        result = {"nodes": sorted(resolved.nodes), "mode": SLOW, **settings}
        return with_note(result, resolved)

    def _restart_and_watch(self, ctx: RunContext, node: str) -> tuple[str, str | None]:
        """Start the node and wait for it to answer ("recovered") or exit ("refused");
        the second item is what the failed start said (the node's last log line)."""
        error = None
        try:
            ctx.db.start(node)
        except Exception as exc:  # noqa: BLE001 - a start that fails is the refusal we look for
            error = str(exc)
            log(ctx, f"disk {node}: start failed: {exc}")
        answered = wait_until(
            lambda: not is_running(ctx, node) or ctx.db.probe(node, timeout=1.0).reachable,
            COME_BACK_S,
        )
        if answered and is_running(ctx, node):
            return "recovered", None
        if not is_running(ctx, node):
            return "refused", error or "the node exited"
        return "unknown", error

    def stop(self, value: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
        sped_up = sorted(self.slowed)
        for node in sped_up:
            self._delayer(ctx).delay_disk(node, None)
        self.slowed.clear()
        restored, left = [], []
        for node, (wal, original, outcome) in sorted(self.saved.items()):
            if outcome == "recovered":
                left.append(node)
                continue
            if is_running(ctx, node):
                ctx.db.kill(node)
                wait_until(lambda n=node: not is_running(ctx, n), 15.0)
            host_of(ctx, node).write_file(wal, original)
            ctx.db.start(node)
            if not wait_until(lambda n=node: is_running(ctx, n), 15.0):
                raise NemesisError(f"disk {node}: did not start again with its original WAL")
            self._drop_backup(ctx, node, wal)
            restored.append(node)
        self.saved.clear()
        self.claims.release(self.fault)
        result: dict[str, Any] = {"restored": restored, "recovered_untouched": left}
        if sped_up:
            result["slow_off"] = sped_up
        return result

    def _drop_backup(self, ctx: RunContext, node: str, wal: str) -> None:
        try:
            host_of(ctx, node).run(["rm", "-f", wal + ".sb-orig"], check=False)
        except Exception:  # noqa: BLE001 - a stale backup file is harmless
            pass
