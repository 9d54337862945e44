"""Tools registered on an agent: validated names, and wrappers that report and record calls.

A tool runs on the host. Model code calls it by name in any environment (the sandbox
included): the call crosses as JSON through the broker's "tool" host call, the custom_tools
seam of `rlm.RLM`. `async def` tools are awaited on the engine's event loop.
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
from collections.abc import Callable
from typing import Any

from rlm._bounded import bounded_repr
from rlm.environments import RESERVED_NAMES
from rlm.errors import ConfigurationError

log = logging.getLogger("rlm.agent")
RESULT_PREVIEW = 2_000

#: (name, arguments, result preview or None, error or None, seconds)
CallSink = Callable[[str, dict[str, Any], str | None, str | None, float], None]


def check_name(name: Any, what: str) -> str:
    if not isinstance(name, str) or not name.isidentifier():
        raise ConfigurationError(f"{what} name {name!r} is not a valid Python identifier")
    if name in RESERVED_NAMES or name.startswith(("_", "context_", "history_")):
        raise ConfigurationError(
            f"{what} name {name!r} is reserved in the REPL; pick another "
            f"(reserved: {', '.join(sorted(RESERVED_NAMES))}, context_N, history_N, _private)"
        )
    return name


def recorded(name: str, fn: Callable[..., Any], sink: CallSink) -> Callable[..., Any]:
    """`fn` wrapped so that every call is passed to `sink`. For an `async def` tool (or one
    returning an awaitable) the wrapper returns an awaitable that reports once it settles;
    the broker awaits it."""

    def report(args: tuple, kwargs: dict, result: Any, error: str | None, start: float) -> None:
        arguments = {"args": list(args), "kwargs": dict(kwargs)}
        shown = None if error is not None else bounded_repr(result, RESULT_PREVIEW)
        try:
            sink(name, arguments, shown, error, time.perf_counter() - start)
        except Exception:
            log.exception("recording a call of tool %s failed; the call itself went through", name)

    async def settle(awaitable: Any, args: tuple, kwargs: dict, start: float) -> Any:
        try:
            result = await awaitable
        except Exception as exc:
            report(args, kwargs, None, f"{type(exc).__name__}: {exc}", start)
            raise
        report(args, kwargs, result, None, start)
        return result

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            report(args, kwargs, None, f"{type(exc).__name__}: {exc}", start)
            raise
        if inspect.isawaitable(result):
            return settle(result, args, kwargs, start)
        report(args, kwargs, result, None, start)
        return result

    return call
