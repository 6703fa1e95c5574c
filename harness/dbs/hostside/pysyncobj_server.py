"""A PySyncObj node that speaks raftnode's client API (docs/interfaces.md §2), for `--db pysyncobj`.

The replicated state is raftnode's own key-value state machine (`raftnode.kv`) inside a
PySyncObj consumer with one replicated method, `apply(command)`: every client op —
reads too, unless ``--reads local`` — is one log entry applied atomically on every
node, with raftnode's semantics (cas, append, incr, transfer, dedup of retried
``client_id``/``seq``). The HTTP layer is raftnode's (`raftnode.http_api` on
`raftnode.httpserver`), so the harness's RaftnodeClient talks to it unchanged and a
response means exactly what it means for raftnode.

Run as a production user would: the Raft log in an on-disk journal (``journalFile``)
and the state machine in full dump files (``fullDumpFile``) in ``--data-dir``, so a
killed and restarted node reloads what it persisted. PySyncObj's callbacks map onto the
API's errors: SUCCESS → the command's result; QUEUE_FULL, MISSING_LEADER, DISCARDED
(another entry won the index), REQUEST_DENIED → ``unavailable`` (certainly not applied);
NOT_LEADER → ``not-leader``; LEADER_CHANGED and no answer in time → ``timeout`` (the
entry may still commit).

Events for the Raft safety checker (``events.jsonl``): ``start`` and ``role`` from
``onStateChanged`` (leader and follower; PySyncObj announces a candidate before raising
its term, so that transition is not reported with a wrong term). That is enough for
election safety (one leader per term). PySyncObj has no hook for log appends, and
apply or commit events without append evidence would make the checker see leaders with
empty logs, so none are written: the other four properties are not checked.

Runs on the hosts with the version's own interpreter: imports only the standard
library, pysyncobj, and raftnode's stdlib-only modules (uploaded alongside). It lives in
harness/dbs/hostside/ (not a package) so importing harness never imports pysyncobj, and is
started with ``python -P`` so no script directory can shadow a package on the path.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from pysyncobj import FAIL_REASON, SyncObj, SyncObjConf, SyncObjConsumer, replicated

from raftnode.core.types import ClientReply, ClientRequest
from raftnode.eventlog import EventLog
from raftnode.http_api import Api
from raftnode.httpserver import HttpError, HttpServer
from raftnode.kv import BadRequest, KVStateMachine, command_from_request

log = logging.getLogger("pysyncobj-server")

ROLES = {0: "follower", 1: "candidate", 2: "leader"}
DEFINITELY_NOT_APPLIED = {
    FAIL_REASON.QUEUE_FULL: "unavailable",
    FAIL_REASON.MISSING_LEADER: "unavailable",
    FAIL_REASON.DISCARDED: "unavailable",
    FAIL_REASON.REQUEST_DENIED: "unavailable",
    FAIL_REASON.NOT_LEADER: "not-leader",
}
# SyncObjConf fields a db option may set, with their type.
CONF_TYPES: dict[str, type] = {
    "raftMinTimeout": float,
    "raftMaxTimeout": float,
    "appendEntriesPeriod": float,
    "leaderFallbackTimeout": float,
    "connectionTimeout": float,
    "connectionRetryTime": float,
    "autoTickPeriod": float,
    "logCompactionMinEntries": int,
    "logCompactionMinTime": float,
    "commandsQueueSize": int,
    "appendEntriesUseBatch": bool,
    "commandsWaitLeader": bool,
    "useFork": bool,
}


class KVConsumer(SyncObjConsumer):
    """raftnode's KV state machine as PySyncObj replicated state (all of it is dumped)."""

    def __init__(self) -> None:
        super().__init__()
        self.kv = KVStateMachine()

    @replicated
    def apply(self, command: dict[str, Any]) -> dict[str, Any]:
        return self.kv.apply(command)


class PySyncObjNode:
    """The NodeApi (raftnode.http_api) over one SyncObj."""

    def __init__(self, args: argparse.Namespace, loop: asyncio.AbstractEventLoop) -> None:
        self.node_id: str = args.id
        self.loop = loop
        self.reads_local = args.reads == "local"
        self.timeout_s = args.request_timeout_ms / 1000
        self.names = {address: name for name, address in args.peer_map.items()}
        self.names[args.self_addr] = args.id
        data = Path(args.data_dir)
        self.events = EventLog(data / "events.jsonl", args.id)
        self.consumer = KVConsumer()
        conf = SyncObjConf(
            journalFile=str(data / "journal.bin"),
            fullDumpFile=str(data / "dump.bin"),
            onStateChanged=self._on_state,
            maxBindRetries=20,
            **args.conf,
        )
        others = [address for name, address in args.peer_map.items() if name != args.id]
        self.syncobj = SyncObj(args.self_addr, others, conf, consumers=[self.consumer])
        self.events.write([{"ev": "start", "term": 0, "commit": self.syncobj.raftCommitIndex}])
        self._handles = itertools.count(1)

    # -- events -----------------------------------------------------------------------
    def _on_state(self, old: int, new: int) -> None:
        role = ROLES.get(new)
        if role in ("leader", "follower"):
            term = self.syncobj.raftCurrentTerm if hasattr(self, "syncobj") else 0
            self.events.write([{"ev": "role", "term": term, "role": role}])
            log.info("%s: %s in term %s", self.node_id, role, term)

    # -- NodeApi ----------------------------------------------------------------------
    def new_handle(self) -> str:
        return f"{self.node_id}-{next(self._handles)}"

    def submit(self, req: ClientRequest) -> asyncio.Future[ClientReply]:
        fut: asyncio.Future[ClientReply] = self.loop.create_future()
        if req.op == "read" and self.reads_local:
            fut.set_result(ClientReply(req.handle, ok=True, value=self.consumer.kv.read(req.key)))
            return fut
        try:
            command = command_from_request(req)
        except BadRequest as exc:
            fut.set_result(ClientReply(req.handle, ok=False, error="bad-request", message=str(exc)))
            return fut

        def done(result: Any, error: int) -> None:  # on PySyncObj's tick thread
            self.loop.call_soon_threadsafe(self._finish, fut, req.handle, result, error)

        timer = self.loop.call_later(self.timeout_s, self._expire, fut, req.handle)
        fut.add_done_callback(lambda _f: timer.cancel())
        self.consumer.apply(command, callback=done)
        return fut

    @staticmethod
    def _finish(fut: asyncio.Future[ClientReply], handle: str, result: Any, error: int) -> None:
        if fut.done():
            return
        if error == FAIL_REASON.SUCCESS and isinstance(result, dict):
            fut.set_result(ClientReply(
                handle, ok=bool(result.get("ok")), value=result.get("value"),
                error=result.get("error"), message=result.get("message"),
            ))  # fmt: skip
        elif error in DEFINITELY_NOT_APPLIED:
            code = DEFINITELY_NOT_APPLIED[error]
            fut.set_result(
                ClientReply(handle, ok=False, error=code, message=f"pysyncobj: {_reason(error)}")
            )
        else:  # LEADER_CHANGED: the leader may have appended it before it changed
            fut.set_result(
                ClientReply(
                    handle, ok=False, error="timeout", message=f"pysyncobj: {_reason(error)}"
                )
            )

    @staticmethod
    def _expire(fut: asyncio.Future[ClientReply], handle: str) -> None:
        if not fut.done():
            fut.set_result(
                ClientReply(handle, ok=False, error="timeout", message="no commit in time")
            )

    def raft_alive(self) -> bool:
        """Whether PySyncObj's tick thread still runs: an exception in it (0.3.12 asserts on
        some forwarded-command replies) ends Raft on this node while the process lives on."""
        thread = getattr(self.syncobj, "_SyncObj__thread", None)
        return thread is None or thread.is_alive()

    def status(self) -> dict[str, Any]:
        obj = self.syncobj
        leader = obj._getLeader()
        state = getattr(obj, "_SyncObj__raftState", 2 if obj._isLeader() else 0)
        alive = self.raft_alive()
        return {
            "id": self.node_id,
            "role": ROLES.get(state, str(state)) if alive else "dead",
            "raft_thread_alive": alive,
            "term": obj.raftCurrentTerm,
            "leader": self.names.get(getattr(leader, "address", None)) if leader else None,
            "commit_index": obj.raftCommitIndex,
            "applied_index": obj.raftLastApplied,
            "has_quorum": obj.hasQuorum,
            "ready": obj.isReady(),
            "version": _pysyncobj_version(),
            "wall_clock_ns": time.time_ns(),
            "pid": os.getpid(),
        }

    def partition(self) -> list[str]:
        return []

    def set_partition(self, nodes: list[str]) -> None:
        raise HttpError(501, "pysyncobj has no partition hook; use the netns or ssh cluster kind")

    def leader_client(self, leader: str | None) -> str | None:
        return None  # followers forward to the leader themselves

    def close(self) -> None:
        self.syncobj.destroy()
        self.events.close()


def _reason(code: int) -> str:
    names = {v: k for k, v in vars(FAIL_REASON).items() if isinstance(v, int)}
    return names.get(code, str(code)).lower().replace("_", "-")


def _pysyncobj_version() -> str:
    try:
        from importlib.metadata import version

        return version("pysyncobj")
    except Exception:  # noqa: BLE001 - status must answer anyway
        return "unknown"


def _conf(items: list[str]) -> dict[str, Any]:
    conf: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or key not in CONF_TYPES:
            raise ValueError(
                f"--conf {item!r}: want KEY=VALUE with KEY one of {', '.join(CONF_TYPES)}"
            )
        kind = CONF_TYPES[key]
        conf[key] = raw.lower() in ("1", "true", "yes", "on") if kind is bool else kind(raw)
    return conf


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="pysyncobj_server", description=__doc__.splitlines()[0])
    p.add_argument("--id", required=True)
    p.add_argument("--peers", required=True, help="n1=HOST:PORT,n2=HOST:PORT,... (PySyncObj's own)")
    p.add_argument("--client", required=True, help="HOST:PORT of the HTTP client API")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--reads", choices=("log", "local"), default="log")
    p.add_argument("--request-timeout-ms", type=int, default=3000)
    p.add_argument("--conf", action="append", default=[], help="SyncObjConf KEY=VALUE")
    args = p.parse_args(argv)
    try:
        args.peer_map = dict(item.split("=", 1) for item in args.peers.split(","))
        args.conf = _conf(args.conf)
    except ValueError as exc:
        p.error(str(exc))
    if args.id not in args.peer_map:
        p.error(f"--id {args.id} is not in --peers")
    args.self_addr = args.peer_map[args.id]
    return args


async def serve(args: argparse.Namespace) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    node = PySyncObjNode(args, loop)
    http = HttpServer(Api(node))
    host, _, port = args.client.rpartition(":")
    try:
        await http.start(host, int(port))
    except OSError as exc:
        print(f"pysyncobj_server: cannot listen on {args.client}: {exc}", file=sys.stderr)
        node.close()
        return 1
    log.info("%s up: pysyncobj %s, raft %s, client %s, data %s, reads %s", args.id,
             _pysyncobj_version(), args.self_addr, args.client, args.data_dir, args.reads)  # fmt: skip
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=1.0)
        except TimeoutError:
            if not node.raft_alive():
                log.error("%s: PySyncObj's Raft thread died (traceback above); this node no "
                          "longer takes part in Raft but keeps serving /status", args.id)  # fmt: skip
                await stop.wait()
    await http.close()
    node.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s {args.id} %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    os.makedirs(args.data_dir, exist_ok=True)
    threading.current_thread().name = f"pysyncobj-{args.id}"
    return asyncio.run(serve(args))


if __name__ == "__main__":
    sys.exit(main())
