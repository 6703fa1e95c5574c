"""Command line of `python -m raftnode` (docs/interfaces.md §1). argparse only: raftnode is
uploaded to bare hosts and must run on their stock python3.

Exit codes: 0 clean stop (SIGTERM/SIGINT), 1 runtime failure (e.g. a port in use),
2 bad command line, 3 corrupt data directory.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path

from raftnode.transport import parse_addr

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_CORRUPT = 0, 1, 2, 3


def _bugs() -> dict[str, str]:
    try:
        from raftnode.bugs import BUGS
    except ImportError:  # pragma: no cover - only while raftnode.bugs is being written
        return {}
    return dict(BUGS)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m raftnode",
        description="A durable Raft key-value server with switchable planted bugs. "
        "Client API: HTTP/JSON on --client (POST /kv, GET /status). "
        "Other commands: `python -m raftnode dump DATA_DIR [--json]`.",
        epilog="Exit codes: 0 stopped by SIGTERM/SIGINT, 1 runtime failure, 2 bad flags, "
        "3 corrupt data dir.",
    )
    p.add_argument("--id", help="this node's name; must appear in --peers")
    p.add_argument(
        "--peers",
        help="every member including this one: n1=HOST:PORT,n2=HOST:PORT,... (peer traffic)",
    )
    p.add_argument("--client", help="HOST:PORT where the HTTP client API listens")
    p.add_argument(
        "--data-dir", type=Path, help="directory for wal.log, snapshot.bin, events.jsonl"
    )
    p.add_argument(
        "--bug",
        action="append",
        default=[],
        metavar="NAME",
        help="switch on a planted bug (repeatable); see --list-bugs",
    )
    p.add_argument("--list-bugs", action="store_true", help="list the planted bugs and exit")
    p.add_argument(
        "--maelstrom",
        action="store_true",
        help="speak the Maelstrom node protocol on stdin/stdout instead of TCP and HTTP "
        "(ids come from init; --data-dir optional: default a temporary one)",
    )
    p.add_argument("--tick-ms", type=int, default=10, help="logical tick length (default 10)")
    p.add_argument(
        "--election-ms",
        type=int,
        default=300,
        help="base election timeout; randomised in [T, 2T) by the core (default 300)",
    )
    p.add_argument("--heartbeat-ms", type=int, default=50, help="leader heartbeat (default 50)")
    p.add_argument(
        "--snapshot-every",
        type=int,
        default=1000,
        help="take a snapshot and compact the log every N applied entries (default 1000)",
    )
    p.add_argument(
        "--request-timeout-ms",
        type=int,
        default=3000,
        help="answer `timeout` to a client request not done by then (default 3000)",
    )
    p.add_argument("--seed", type=int, default=None, help="seed the core's randomness")
    p.add_argument(
        "--disk-thread",
        default="auto",
        choices=["auto", "on", "off"],
        help="fsync on a separate thread, pipelined with replication (on), or on the event "
        "loop (off); auto = off when libfaketime is preloaded, whose broken timed waits on "
        "the monotonic clock make CPython's GIL hand-off between threads crawl (default auto)",
    )
    p.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="stderr log level (default info)",
    )
    return p


def parse_peers(text: str) -> dict[str, tuple[str, int]]:
    peers: dict[str, tuple[str, int]] = {}
    for item in text.split(","):
        name, sep, addr = item.strip().partition("=")
        if not sep or not name:
            raise ValueError(f"bad --peers item {item!r} (want NAME=HOST:PORT)")
        if name in peers:
            raise ValueError(f"--peers names {name!r} twice")
        peers[name] = parse_addr(addr)
    return peers


def disk_thread_wanted(choice: str, environ: Mapping[str, str]) -> bool:
    """Resolve --disk-thread: `auto` avoids the thread under libfaketime (LD_PRELOAD)."""
    if choice == "auto":
        return "faketime" not in environ.get("LD_PRELOAD", "")
    return choice == "on"


def options_from_args(args: argparse.Namespace):
    """Validate the parsed flags into NodeOptions; ValueError carries a one-line reason."""
    from raftnode.runtime import NodeOptions

    for flag in ("id", "peers", "client", "data_dir"):
        if getattr(args, flag) in (None, ""):
            raise ValueError(f"--{flag.replace('_', '-')} is required")
    peers = parse_peers(args.peers)
    if args.id not in peers:
        raise ValueError(f"--id {args.id!r} is not among --peers ({', '.join(peers)})")
    known = _bugs()
    for bug in args.bug:
        if bug not in known:
            raise ValueError(f"unknown bug {bug!r}; see --list-bugs")
    for flag in ("tick_ms", "election_ms", "heartbeat_ms", "snapshot_every", "request_timeout_ms"):
        if getattr(args, flag) <= 0:
            raise ValueError(f"--{flag.replace('_', '-')} must be positive")
    if args.heartbeat_ms >= args.election_ms:
        raise ValueError("--heartbeat-ms must be shorter than --election-ms")
    opts = NodeOptions(
        node_id=args.id,
        peers=peers,
        client=parse_addr(args.client),
        data_dir=args.data_dir,
        bugs=frozenset(args.bug),
        tick_ms=args.tick_ms,
        election_ms=args.election_ms,
        heartbeat_ms=args.heartbeat_ms,
        snapshot_every=args.snapshot_every,
        request_timeout_ms=args.request_timeout_ms,
        seed=args.seed,
        disk_thread=disk_thread_wanted(args.disk_thread, os.environ),
    )
    try:
        opts.node_config()
    except ValueError as exc:  # e.g. heartbeat and election land on the same tick count
        raise ValueError(f"timings do not fit --tick-ms {args.tick_ms}: {exc}") from exc
    return opts


def _dump_main(argv: list[str]) -> int:
    from raftnode.dump import dump_data, print_dump
    from raftnode.storage import StorageCorrupt

    p = argparse.ArgumentParser(
        prog="python -m raftnode dump", description="Print the durable log and hard state."
    )
    p.add_argument("data_dir", type=Path, metavar="DATA_DIR")
    p.add_argument("--json", action="store_true", help="one JSON document instead of a table")
    args = p.parse_args(argv)
    if not args.data_dir.is_dir():
        print(f"raftnode dump: {args.data_dir} is not a directory", file=sys.stderr)
        return EXIT_USAGE
    try:
        doc = dump_data(args.data_dir)
    except StorageCorrupt as exc:
        print(f"raftnode dump: corrupt data dir: {exc}", file=sys.stderr)
        return EXIT_CORRUPT
    print_dump(doc, sys.stdout, as_json=args.json)
    return EXIT_OK


async def _serve(runtime) -> int:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, runtime.request_stop)
    try:
        await runtime.start()
    except OSError as exc:
        await runtime.stop()
        print(f"raftnode: cannot start: {exc}", file=sys.stderr)
        return EXIT_FAIL
    await runtime.wait_stopped()
    await runtime.stop()
    logging.getLogger("raftnode").info("node %s stopped", runtime.opts.node_id)
    return EXIT_FAIL if runtime.fatal else EXIT_OK


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["dump"]:
        return _dump_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list_bugs:
        bugs = _bugs()
        width = max((len(n) for n in bugs), default=0)
        for name, what in sorted(bugs.items()):
            print(f"{name:<{width}}  {what}")
        return EXIT_OK
    if args.maelstrom:
        from raftnode.maelstrom import main as maelstrom_main

        return maelstrom_main(args, parser)
    try:
        opts = options_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))  # exits 2 with usage and the one-line reason
    logging.basicConfig(
        level=args.log_level.upper(),
        format=f"%(asctime)s {opts.node_id} %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from raftnode.runtime import Runtime
    from raftnode.storage import StorageCorrupt

    runtime = Runtime(opts)
    try:
        runtime.open_storage()
    except StorageCorrupt as exc:
        print(f"raftnode: corrupt data dir, refusing to start: {exc}", file=sys.stderr)
        return EXIT_CORRUPT
    except OSError as exc:
        print(f"raftnode: cannot open data dir: {exc}", file=sys.stderr)
        return EXIT_FAIL
    return asyncio.run(_serve(runtime))
