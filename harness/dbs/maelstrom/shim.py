"""maelstrom shim: runs one Maelstrom node binary on its host and bridges the binary's
stdin/stdout to one TCP connection from the controller.

Why a shim: a Maelstrom node talks only through stdin/stdout, but on `netns` and `ssh`
the node must run on its own host while the controller routes every message. The shim
is the smallest piece that can live on the host: it accepts one connection, starts the
binary (so nothing the binary prints is lost before the controller listens), and copies
bytes both ways without looking at them. The binary's stderr is the shim's stderr, i.e.
the node log. Both lead one process group (the shim is started with `start_daemon`), so
SIGKILL / SIGSTOP on the group reach the binary too.

Standard library only and no imports from splitbrain: this file is uploaded to bare
hosts and run as `python3 shim.py --listen HOST:PORT [--env K=V]... -- BIN ARG...`.
It exits with the binary's exit code (128 + N for a signal), after a last log line
`maelstrom-shim: <bin> exited with code N` that the controller quotes in its errors.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
from typing import BinaryIO

PREFIX = "maelstrom-shim:"
CHUNK = 65536


def say(message: str) -> None:
    print(f"{PREFIX} {message}", file=sys.stderr, flush=True)


def _pump_out(source: BinaryIO, conn: socket.socket) -> None:
    """Binary stdout -> controller; ends at the binary's EOF or a dead connection."""
    try:
        while chunk := source.read1(CHUNK):
            conn.sendall(chunk)
    except OSError:
        pass
    finally:
        try:
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def _pump_in(conn: socket.socket, sink: BinaryIO) -> None:
    """Controller -> binary stdin; closing the connection closes the binary's stdin."""
    try:
        while chunk := conn.recv(CHUNK):
            sink.write(chunk)
            sink.flush()
    except OSError:
        pass
    finally:
        try:
            sink.close()
        except OSError:
            pass


def _parse_listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise SystemExit(f"{PREFIX} bad --listen {text!r} (want HOST:PORT)")
    return host or "0.0.0.0", int(port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="maelstrom-shim")
    parser.add_argument("--listen", required=True, help="HOST:PORT for the controller")
    parser.add_argument(
        "--env", action="append", default=[], help="KEY=VALUE for the binary only (repeatable)"
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- BIN [ARG...]")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no binary given (… -- BIN [ARG...])")
    env = dict(os.environ)
    for item in args.env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            parser.error(f"bad --env {item!r} (want KEY=VALUE)")
        env[key] = value
    server = socket.create_server(_parse_listen(args.listen))
    conn, peer = server.accept()
    server.close()  # one controller per life of the node
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    except OSError as exc:
        say(f"cannot run {command[0]}: {exc.strerror or exc}")
        conn.close()
        return 127
    say(f"started {command[0]} as pid {child.pid} for controller {peer[0]}:{peer[1]}")
    assert child.stdout is not None and child.stdin is not None
    out = threading.Thread(target=_pump_out, args=(child.stdout, conn), daemon=True)
    into = threading.Thread(target=_pump_in, args=(conn, child.stdin), daemon=True)
    out.start()
    into.start()
    code = child.wait()
    out.join(5.0)  # let the last lines reach the controller
    status = code if code >= 0 else 128 - code
    say(f"{command[0]} exited with code {status}")
    conn.close()
    return status


if __name__ == "__main__":
    sys.exit(main())
