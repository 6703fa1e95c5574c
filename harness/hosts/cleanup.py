"""Last-resort cleanup: run registered teardown callables at exit and on SIGTERM.

The runner tears clusters down in `finally` blocks; this catches the cases it cannot:
an exception escaping to the interpreter, `sys.exit`, or a SIGTERM outside a test run
(turned into a SystemExit so that `finally` blocks run first; during `splitbrain test`
the runner's own SIGTERM handler wins, which stops the test like Ctrl-C). SIGINT keeps
Python's default — a KeyboardInterrupt that unwinds through the same `finally` blocks;
atexit is the backstop. A SIGKILL cannot be caught: `splitbrain cleanup` removes what
is left from the run record (harness.hosts.local_state), `lab down` from a lab's.
"""

from __future__ import annotations

import atexit
import signal
import threading
from collections.abc import Callable
from types import FrameType

_callbacks: dict[int, Callable[[], None]] = {}
_lock = threading.Lock()
_installed = False
_next_token = 0


def _run_all() -> None:
    with _lock:
        pending = list(_callbacks.items())
        _callbacks.clear()
    for _token, func in reversed(pending):
        try:
            func()
        except Exception:  # noqa: BLE001 - best effort at exit; never mask the real error
            pass


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    atexit.register(_run_all)
    if threading.current_thread() is threading.main_thread():
        try:
            if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
                signal.signal(signal.SIGTERM, _on_sigterm)
        except ValueError:
            pass


def register(func: Callable[[], None]) -> int:
    """Run `func` at interpreter exit unless unregistered first; returns a token."""
    global _next_token
    with _lock:
        _install()
        _next_token += 1
        _callbacks[_next_token] = func
        return _next_token


def unregister(token: int) -> None:
    with _lock:
        _callbacks.pop(token, None)
