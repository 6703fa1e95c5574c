#!/usr/bin/env python3
"""A Maelstrom "node" that fails at start, for the tests: one stderr line, exit code 3."""

import sys

print("exits_node: cannot open /nonexistent/config.toml", file=sys.stderr, flush=True)
sys.exit(3)
