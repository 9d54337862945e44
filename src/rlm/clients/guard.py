"""The test guard: while real requests are blocked, a provider request to anything but
loopback raises `RealModelCallBlockedError` before a byte leaves the machine.

Turn it on with the environment variable `RLM_BLOCK_REAL_REQUESTS=1` (our tests/conftest.py
sets it; users can set it in their own test suites). Loopback endpoints (127.0.0.0/8, ::1,
`localhost`) stay allowed so tests can talk to the fake servers they start. To make a real
call on purpose while the guard is on, wrap it in `allow_real_requests()` or set
`RLM_BLOCK_REAL_REQUESTS=0`.

Every provider client calls `check_request` with the URL its SDK is about to use (or None
when the SDK picks a remote default itself, as LiteLLM does), right before each request.
"""

from __future__ import annotations

import ipaddress
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from rlm.errors import RealModelCallBlockedError

__all__ = [
    "ENV_VAR",
    "allow_real_requests",
    "check_request",
    "is_loopback",
    "real_requests_blocked",
]

ENV_VAR = "RLM_BLOCK_REAL_REQUESTS"

_allow_depth = 0
_allow_lock = threading.Lock()


def real_requests_blocked() -> bool:
    """True when the guard is on (env var set to a true value) and no allow-block is active."""
    if _allow_depth > 0:
        return False
    return os.environ.get(ENV_VAR, "").strip().lower() in {"1", "true", "yes", "on"}


@contextmanager
def allow_real_requests() -> Iterator[None]:
    """Let real provider requests through inside this block, in every thread (process-wide,
    because sub-calls run on worker threads that do not inherit context variables)."""
    global _allow_depth
    with _allow_lock:
        _allow_depth += 1
    try:
        yield
    finally:
        with _allow_lock:
            _allow_depth -= 1


def is_loopback(url: str | None) -> bool:
    """Whether `url` points at this machine (127.0.0.0/8, ::1 or localhost)."""
    if not url:
        return False
    host = urlsplit(url if "//" in url else f"//{url}").hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_request(backend: str, model: str, url: str | None) -> None:
    """Raise `RealModelCallBlockedError` if this request would leave the machine while the
    guard is on. `url` is the endpoint the SDK will call; None means a remote default."""
    if not real_requests_blocked() or is_loopback(url):
        return
    where = url or "the provider's default endpoint"
    raise RealModelCallBlockedError(
        f"Blocked a real model request: backend {backend!r}, model {model!r}, to {where}, "
        f"because {ENV_VAR}=1 (set by the test suite). Point the client at a loopback fake "
        "server (base_url='http://127.0.0.1:PORT/...'), use the 'scripted'/'function' "
        "backends, or, to call the real provider on purpose, wrap the call in "
        f"rlm.clients.guard.allow_real_requests() or set {ENV_VAR}=0.",
        model=model,
    )
