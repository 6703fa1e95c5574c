"""How a DB starts a node so that the clock nemesis can move its wall clock.

It lives in the kernel because both sides need it: DB adapters (harness.dbs) start
nodes with this environment, and nemeses.clock writes the offset file it names.
"""

from __future__ import annotations

FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"


def faketime_env(clock_file: str) -> dict[str, str]:
    """The environment a DB starts a node with so this nemesis can move its clock.

    The wall clock reads its offset from `clock_file` on every call; monotonic clocks stay
    true so timers and timeouts are unaffected. Note libfaketime 0.9.10 (Debian 12) also
    breaks CPython >= 3.11 timed waits on the monotonic clock (time.sleep raises EINVAL,
    the GIL hand-off between threads crawls): a Python node must stay single-threaded
    under it (raftnode's --disk-thread auto does)."""
    return {
        "LD_PRELOAD": FAKETIME_LIB,
        "FAKETIME_TIMESTAMP_FILE": clock_file,
        "FAKETIME_NO_CACHE": "1",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }
