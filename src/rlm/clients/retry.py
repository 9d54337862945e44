"""Retry policy for provider calls: exponential backoff with jitter on transient failures.

Transient: HTTP 408/409/425/429/5xx (and Anthropic's 529), timeouts, connection errors.
Everything else (400, 401, 403, 404, 422, ...) fails on the first attempt. A `Retry-After`
(or OpenAI's `retry-after-ms`) header is honoured exactly; if it asks for longer than
`max_retry_after` the call fails at once with a message saying so, instead of hanging.

SDKs' own retry loops are switched off by every client (max_retries=0 or equivalent), so
this is the only retry layer and behaves the same for every provider.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from rlm.clients.errors_map import Failure

__all__ = ["RetryPolicy", "acall_with_retry", "call_with_retry"]

log = logging.getLogger("rlm.clients")
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a transient failure.

    The n-th retry (n from 0) waits `min(max_delay, initial_delay * multiplier**n)`, scaled by
    a random factor in [1 - jitter, 1] so that many concurrent sub-calls that failed together
    do not retry together. A server-sent Retry-After replaces that delay.
    """

    max_retries: int = 4
    initial_delay: float = 1.0
    max_delay: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.5
    max_retry_after: float = 120.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("jitter must be between 0 and 1")

    def backoff(self, retry_index: int) -> float:
        base = min(self.max_delay, self.initial_delay * self.multiplier**retry_index)
        return base * (1.0 - self.jitter * random.random())


def _next_delay(policy: RetryPolicy, failure: Failure, retry_index: int) -> float | None:
    """Seconds to wait before the next attempt, or None to give up now."""
    if not failure.retryable or retry_index >= policy.max_retries:
        return None
    if failure.retry_after is not None:
        if failure.retry_after > policy.max_retry_after:
            return None
        return max(0.0, failure.retry_after)
    return policy.backoff(retry_index)


def _give_up(failure: Failure, attempts: int, policy: RetryPolicy, exc: BaseException) -> None:
    note = ""
    if failure.retryable:
        if failure.retry_after is not None and failure.retry_after > policy.max_retry_after:
            note = (
                f" The provider asked to wait {failure.retry_after:.0f}s (Retry-After), more "
                f"than max_retry_after={policy.max_retry_after:.0f}s, so rlm gave up."
            )
        else:
            note = f" Gave up after {attempts} attempt(s); raise max_retries to try longer."
    raise failure.build(note) from exc


def call_with_retry(
    fn: Callable[[], T],
    policy: RetryPolicy,
    classify: Callable[[BaseException], Failure | None],
    *,
    sleep: Callable[[float], None] = time.sleep,
    what: str = "model call",
) -> T:
    """Run `fn`, retrying transient failures. Exceptions `classify` does not recognise (bugs,
    not provider errors) propagate unchanged; recognised ones leave as `rlm.errors`."""
    retry_index = 0
    while True:
        try:
            return fn()
        except Exception as exc:
            failure = classify(exc)
            if failure is None:
                raise
            delay = _next_delay(policy, failure, retry_index)
            if delay is None:
                _give_up(failure, retry_index + 1, policy, exc)
                raise  # unreachable: _give_up always raises
            log.warning(
                "%s failed (%s); retry %d/%d in %.2fs",
                what,
                failure.summary,
                retry_index + 1,
                policy.max_retries,
                delay,
            )
            sleep(delay)
            retry_index += 1


async def acall_with_retry(
    fn: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    classify: Callable[[BaseException], Failure | None],
    *,
    what: str = "model call",
) -> T:
    """The async twin of `call_with_retry` (waits with asyncio.sleep)."""
    retry_index = 0
    while True:
        try:
            return await fn()
        except Exception as exc:
            failure = classify(exc)
            if failure is None:
                raise
            delay = _next_delay(policy, failure, retry_index)
            if delay is None:
                _give_up(failure, retry_index + 1, policy, exc)
                raise
            log.warning(
                "%s failed (%s); retry %d/%d in %.2fs",
                what,
                failure.summary,
                retry_index + 1,
                policy.max_retries,
                delay,
            )
            await asyncio.sleep(delay)
            retry_index += 1
