"""`python -m raftnode --maelstrom`: raftnode's Raft under the Maelstrom node protocol.

The node reads Maelstrom messages as JSON lines on stdin and writes them on stdout (its
log goes to stderr). `init` names the node and its peers; then the I/O-free core runs
exactly as in the TCP runtime — the same `Runtime` pipeline (persist, then send, then
events, then advance), ticks from the same timer, the same storage — except that peer
messages travel as Maelstrom messages of type ``raft`` (``{"type": "raft", "msg": ...}``,
the core's Message as JSON) through whatever network Maelstrom or splitbrain provides.

Clients speak lin-kv: ``read``/``write``/``cas`` answered ``read_ok``/``write_ok``/
``cas_ok`` or ``error`` with Maelstrom's codes: 20 key-does-not-exist (a read of an
absent key, a cas on one), 22 precondition-failed, 11 temporarily-unavailable (no
leader, not applied), 12 malformed-request, 0 timeout (outcome unknown).

State lives in ``--data-dir`` (default: a temporary directory removed at exit, i.e. a
node that forgets everything when it restarts, like most Maelstrom nodes). Give a real
directory — ``--data-dir .`` under splitbrain, which runs each node in its own data
directory — for a node that keeps its term, vote and log across a kill.

Standard library only (raftnode runs on bare hosts).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from raftnode.core.types import ClientReply, ClientRequest, Message
from raftnode.runtime import NodeOptions, Runtime
from raftnode.storage import StorageCorrupt
from raftnode.transport import _default, message_dict

log = logging.getLogger("raftnode.maelstrom")

MAX_LINE = 256 * 1024 * 1024
PEER_TYPE = "raft"
NOWHERE = ("maelstrom", 0)  # peers have no addresses: the Maelstrom network carries traffic
ERROR_CODES = {
    "timeout": 0,
    "not-leader": 11,
    "unavailable": 11,
    "bad-request": 12,
    "not-found": 20,
    "precondition-failed": 22,
}
CRASH = 13  # anything unexpected: indefinite


class Stdout:
    """Maelstrom messages out: one JSON line each, flushed at once."""

    def __init__(self, node_id: str = "") -> None:
        self.node_id = node_id
        self._encode = json.JSONEncoder(separators=(",", ":"), default=_default).encode

    def send(self, dest: str, body: dict[str, Any]) -> None:
        sys.stdout.write(self._encode({"src": self.node_id, "dest": dest, "body": body}) + "\n")
        sys.stdout.flush()


class MaelstromTransport:
    """The Runtime's transport seam: core Messages leave as Maelstrom ``raft`` messages."""

    def __init__(self, out: Stdout) -> None:
        self.out = out
        self.dropped: frozenset[str] = frozenset()  # partitions are the network's business
        self.client_addrs: dict[str, str] = {}

    def send_many(self, msgs: Any) -> None:
        for msg in msgs:
            self.out.send(msg.dst, {"type": PEER_TYPE, "msg": message_dict(msg)})

    def set_dropped(self, nodes: Any) -> None:
        self.dropped = frozenset(nodes)

    async def close(self) -> None:
        pass


class MaelstromRuntime(Runtime):
    """Runtime with stdout in place of the TCP transport and no HTTP server."""

    def __init__(self, opts: NodeOptions, out: Stdout) -> None:
        super().__init__(opts)
        self.out = out

    async def start(self) -> None:
        self._start_core()
        self.transport = MaelstromTransport(self.out)  # type: ignore[assignment]
        self._start_timers()
        log.info("node %s up under maelstrom: peers %s, data %s", self.opts.node_id,
                 ",".join(sorted(self.opts.peers)), self.opts.data_dir)  # fmt: skip
        self._schedule_drain()


def _key(key: Any) -> str:
    """The core keys by string; Maelstrom keys are any JSON (usually ints)."""
    return key if isinstance(key, str) else json.dumps(key, sort_keys=True)


def request_from_body(handle: str, body: dict[str, Any]) -> ClientRequest:
    """A lin-kv request as the core's ClientRequest; ValueError if malformed."""
    kind = body.get("type")
    if "key" not in body:
        raise ValueError(f"{kind} needs a key")
    key = _key(body["key"])
    if kind == "read":
        return ClientRequest(handle=handle, op="read", key=key)
    if kind == "write":
        if "value" not in body:
            raise ValueError("write needs a value")
        return ClientRequest(handle=handle, op="write", key=key, value=body["value"])
    if kind == "cas":
        if "from" not in body or "to" not in body:
            raise ValueError("cas needs from and to")
        return ClientRequest(
            handle=handle, op="cas", key=key, extra={"old": body["from"], "new": body["to"]}
        )
    raise ValueError(f"unsupported request type {kind!r}")


def reply_body(kind: str, reply: ClientReply) -> dict[str, Any]:
    """The lin-kv answer to a ClientReply."""
    if reply.ok and kind == "read" and reply.value is None:
        return {"type": "error", "code": 20, "text": "key does not exist"}
    if reply.ok:
        out: dict[str, Any] = {"type": f"{kind}_ok"}
        if kind == "read":
            out["value"] = reply.value
        return out
    code = ERROR_CODES.get(reply.error or "", CRASH)
    return {"type": "error", "code": code, "text": reply.message or reply.error or "error"}


class MaelstromNode:
    """Dispatches incoming Maelstrom messages; owns the runtime once `init` arrived."""

    def __init__(self, template: NodeOptions, data_dir: Path) -> None:
        self.template = template
        self.data_dir = data_dir
        self.out = Stdout()
        self.runtime: MaelstromRuntime | None = None
        self.fatal: int | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def handle(self, line: bytes) -> None:
        try:
            msg = json.loads(line)
            src, body = msg["src"], msg["body"]
            kind = body["type"]
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a stdin line that is not a Maelstrom message: %.200r", line)
            return
        if kind == "init":
            self._init(src, body)
        elif kind == PEER_TYPE:
            self._peer(body)
        elif self.runtime is None:
            self._reply(src, body, {"type": "error", "code": 11, "text": "not initialized"})
        elif kind in ("read", "write", "cas"):
            self._spawn(self._client(src, body))
        else:
            self._reply(src, body, {"type": "error", "code": 10, "text": f"unsupported {kind!r}"})

    def _reply(self, src: str, body: dict[str, Any], answer: dict[str, Any]) -> None:
        if "msg_id" in body:
            answer["in_reply_to"] = body["msg_id"]
        self.out.send(src, answer)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _init(self, src: str, body: dict[str, Any]) -> None:
        if self.runtime is not None:
            self._reply(src, body, {"type": "init_ok"})
            return
        node_id, node_ids = body.get("node_id"), body.get("node_ids")
        if (
            not isinstance(node_id, str)
            or not isinstance(node_ids, list)
            or node_id not in node_ids
        ):
            log.error("bad init %r: needs node_id among node_ids", body)
            return
        self.out.node_id = node_id
        opts = dataclasses.replace(
            self.template,
            node_id=node_id,
            peers={str(n): NOWHERE for n in node_ids},
            data_dir=self.data_dir,
        )
        self.runtime = MaelstromRuntime(opts, self.out)
        try:
            self.runtime.open_storage()
        except StorageCorrupt as exc:
            print(f"raftnode: corrupt data dir, refusing to start: {exc}", file=sys.stderr)
            self.fatal = 3
            return
        self._spawn(self._start(src, body))

    async def _start(self, src: str, body: dict[str, Any]) -> None:
        assert self.runtime is not None
        await self.runtime.start()
        self._reply(src, body, {"type": "init_ok"})

    def _peer(self, body: dict[str, Any]) -> None:
        if self.runtime is None or self.runtime.logic is None:
            return  # not started yet: Raft retries whatever is lost
        try:
            msg = Message.from_json(body["msg"])
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("ignoring a malformed raft message: %s", exc)
            return
        if msg.dst == self.runtime.opts.node_id:
            self.runtime.on_message(msg)

    async def _client(self, src: str, body: dict[str, Any]) -> None:
        assert self.runtime is not None
        if self.runtime.logic is None:
            self._reply(src, body, {"type": "error", "code": 11, "text": "starting"})
            return
        kind = body["type"]
        try:
            req = request_from_body(self.runtime.new_handle(), body)
        except ValueError as exc:
            self._reply(src, body, {"type": "error", "code": 12, "text": str(exc)})
            return
        reply = await self.runtime.submit(req)
        self._reply(src, body, reply_body(kind, reply))

    async def stop(self) -> None:
        if self.runtime is not None and self.runtime.logic is not None:
            await self.runtime.stop()


async def _serve(node: MaelstromNode) -> int:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=MAX_LINE)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        while node.fatal is None:
            line = await reader.readline()
            if not line:
                break  # stdin closed: the network is gone
            if line.strip():
                node.handle(line)
            if node.runtime is not None and node.runtime.fatal:
                node.fatal = 1
    finally:
        await node.stop()
    return node.fatal or 0


def main(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Run until stdin closes; `args` are raftnode's parsed flags (ids come from init)."""
    from raftnode.cli import options_from_args

    placeholder = argparse.Namespace(**vars(args))
    placeholder.id, placeholder.peers, placeholder.client = "n0", "n0=maelstrom:1", "maelstrom:1"
    temporary = args.data_dir is None
    data_dir = Path(tempfile.mkdtemp(prefix="raftnode-maelstrom-")) if temporary else args.data_dir
    placeholder.data_dir = data_dir
    try:
        template = options_from_args(placeholder)  # the timing, bug and seed checks of the CLI
    except ValueError as exc:
        parser.error(str(exc))
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    os.makedirs(data_dir, exist_ok=True)
    try:
        return asyncio.run(_serve(MaelstromNode(template, data_dir.resolve())))
    finally:
        if temporary:
            shutil.rmtree(data_dir, ignore_errors=True)
