"""A stand-in node process for nemesis tests: enough of raftnode's surface to observe faults.

It serves GET /status (wall_clock_ns through libfaketime, pid, role, WAL fields) and
GET/POST /admin/partition, and keeps a WAL of checksummed lines, appending one every
50 ms. On start it checks the WAL like raftnode's storage: a torn last line (no newline)
is cut and the node recovers; a line whose checksum does not match exits 3.

Run: python stubnode.py NODE PORT DATA_DIR BIND_ADDRESS [leader]
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

node, port, data_dir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
bind = sys.argv[4]
role = "leader" if len(sys.argv) > 5 and sys.argv[5] == "leader" else "follower"
wal = os.path.join(data_dir, "wal.log")
state = {"synced": 0, "drop": [], "records": 0}
lock = threading.Lock()


def check_wal() -> None:
    if not os.path.exists(wal):
        return
    with open(wal, "rb") as f:
        data = f.read()
    good = data[: data.rfind(b"\n") + 1]
    for number, line in enumerate(good.splitlines(), 1):
        body, _, crc = line.rpartition(b" ")
        if not crc.isdigit() or zlib.crc32(body) != int(crc):
            print(f"corrupt WAL record {number} in {wal}", file=sys.stderr, flush=True)
            sys.exit(3)
    if len(good) != len(data):
        print(f"torn tail: cut {len(data) - len(good)} bytes", file=sys.stderr, flush=True)
        with open(wal, "r+b") as f:
            f.truncate(len(good))
    state["synced"] = len(good)
    state["records"] = len(good.splitlines())


def writer() -> None:
    with open(wal, "ab") as f:
        while True:
            with lock:
                state["records"] += 1
                body = f"record {state['records']} {node}".encode()
                f.write(body + b" " + str(zlib.crc32(body)).encode() + b"\n")
                f.flush()
                os.fsync(f.fileno())
                state["synced"] = f.tell()
            time.sleep(0.05)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def _send(self, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/status":
            with lock:
                synced = state["synced"]
            self._send(
                {
                    "id": node,
                    "role": role,
                    "leader": node if role == "leader" else None,
                    "term": 1,
                    "wall_clock_ns": time.time_ns(),
                    "pid": os.getpid(),
                    "wal_path": wal,
                    "wal_synced_bytes": synced,
                }
            )
        elif self.path == "/admin/partition":
            self._send({"drop": state["drop"]})
        else:
            self.send_error(404)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.path == "/admin/partition":
            state["drop"] = list(body.get("drop", []))
            self._send({"ok": True, "drop": state["drop"]})
        else:
            self.send_error(404)


check_wal()
threading.Thread(target=writer, daemon=True).start()
ThreadingHTTPServer((bind, port), Handler).serve_forever()
