"""Telling a model call that its result is no longer wanted.

A limit that trips (or a cancellation) while a model request runs on a worker thread makes
the run raise at once, but the request itself keeps going unless its client stops it. Clients
that generate in-process (the embedded `local` model) poll `current()` and stop at the next
token: otherwise the abandoned generation keeps the CPU busy, and at interpreter exit it is
still running inside native code when the model is freed (a SIGABRT instead of the run's
documented exit code).

`RunGuard.call` runs each request under `stop_when(check)`; `check()` is true once the run
tripped. Code outside a guarded call sees `current()` return a check that is always false.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

StopCheck = Callable[[], bool]

_local = threading.local()


def _never() -> bool:
    return False


@contextlib.contextmanager
def stop_when(check: StopCheck) -> Iterator[None]:
    """Model calls made on this thread inside the block should stop once `check()` is true."""
    previous = getattr(_local, "check", None)
    _local.check = check
    try:
        yield
    finally:
        _local.check = previous


def current() -> StopCheck:
    """The stop check of the guarded call running on this thread (never true outside one)."""
    return getattr(_local, "check", None) or _never
