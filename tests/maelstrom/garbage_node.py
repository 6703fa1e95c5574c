#!/usr/bin/env python3
"""A Maelstrom "node" that logs to stdout instead of stderr, for the tests."""

import sys

print("garbage_node: starting up", file=sys.stderr, flush=True)
print("Hello! I am a node and I print banners on stdout.", flush=True)
sys.stdin.read()
