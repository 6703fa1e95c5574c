#!/usr/bin/env python3
"""A deliberately broken Maelstrom lin-kv node, for the tests: naive replication.

Every node answers reads from its own copy and acknowledges a write or cas as soon as it
has applied it locally, then gossips the new value to its peers without waiting for
them. So a read on one node right after a write acknowledged by another returns the old
value — a stale read the linearizability checker must find. Standard library only.

`--garbage-every N` also prints a line that is not JSON after every N-th client request
(a node that logs to stdout by mistake), for the test that the harness survives it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys

state: dict[str, object] = {}
me = ""
peers: list[str] = []


def send(dest: str, body: dict) -> None:
    sys.stdout.write(json.dumps({"src": me, "dest": dest, "body": body}) + "\n")
    sys.stdout.flush()


def reply(msg: dict, body: dict) -> None:
    body["in_reply_to"] = msg["body"].get("msg_id")
    send(msg["src"], body)


def gossip(key: str, value: object) -> None:
    for peer in peers:
        send(peer, {"type": "replicate", "key": key, "value": value})


requests = itertools.count(1)
garbage_every = 0


def handle(msg: dict) -> None:
    global me, peers
    body = msg["body"]
    kind = body["type"]
    key = json.dumps(body.get("key"))
    if kind == "init":
        me = body["node_id"]
        peers = [n for n in body["node_ids"] if n != me]
        reply(msg, {"type": "init_ok"})
    elif kind == "replicate":
        state[body["key"]] = body["value"]  # gossip carries the encoded key
    elif kind == "read":
        if key in state:
            reply(msg, {"type": "read_ok", "value": state[key]})
        else:
            reply(msg, {"type": "error", "code": 20, "text": "key does not exist"})
    elif kind == "write":
        state[key] = body["value"]
        reply(msg, {"type": "write_ok"})
        gossip(key, body["value"])
    elif kind == "cas":
        if key not in state:
            reply(msg, {"type": "error", "code": 20, "text": "key does not exist"})
        elif state[key] != body["from"]:
            reply(msg, {"type": "error", "code": 22, "text": f"value is {state[key]!r}"})
        else:
            state[key] = body["to"]
            reply(msg, {"type": "cas_ok"})
            gossip(key, body["to"])
    else:
        reply(msg, {"type": "error", "code": 10, "text": f"unsupported {kind}"})
        return
    if kind in ("read", "write", "cas") and garbage_every and next(requests) % garbage_every == 0:
        print(f"debug: served {kind} on {me}", flush=True)


def main() -> None:
    global garbage_every
    parser = argparse.ArgumentParser()
    parser.add_argument("--garbage-every", type=int, default=0)
    garbage_every = parser.parse_args().garbage_every
    print("broken node: naive replication, reads from local state", file=sys.stderr, flush=True)
    for line in sys.stdin:
        if line.strip():
            handle(json.loads(line))


if __name__ == "__main__":
    main()
