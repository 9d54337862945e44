"""Usage accounting and limits for a whole recursion tree.

One `RunGuard` per RLM run; a child run's guard has the parent's as `parent`. Every model call
is charged to its guard and, through the chain, to every ancestor, so a root's usage summary
and limits include all of its descendants. A limit trip (or Ctrl-C) anywhere is seen by every
guard below the one that tripped: waits in progress wake up and running cells are interrupted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from rlm.clients.cancel import stop_when
from rlm.core.workers import POOL, help_run
from rlm.errors import (
    BudgetExceededError,
    CancellationError,
    LimitExceededError,
    RLMError,
    SubcallLimitExceededError,
    SubcallTokenLimitExceededError,
    TimeoutExceededError,
    TokenLimitExceededError,
)
from rlm.types import CallUsage, LMResponse, ModelUsageSummary, UsageSummary

log = logging.getLogger("rlm")
T = TypeVar("T")
_POLL = 0.05  # seconds between checks while waiting; also bounds Ctrl-C latency
# Sub-call counting checks every guard of a chain, then counts in all of them: one lock for
# all guards keeps concurrent sub-calls from overshooting max_subcalls between the two.
_SUBCALL_LOCK = threading.Lock()
SUBCALL_LIMIT_NOTE = (
    "[SUBCALL_LIMIT] {what} reached: no more sub-model calls in this run. "
    "Build your final answer now from what you already have."
)


@dataclass(frozen=True)
class Limits:
    max_budget: float | None = None
    max_timeout: float | None = None
    max_tokens: int | None = None
    max_errors: int | None = None
    max_subcalls: int | None = None  # llm_query / rlm_query calls, whole tree
    max_subcall_tokens: int | None = None  # tokens spent by sub-calls (and child runs)
    # "raise": a sub-call budget trip raises like any limit; "finalize": further sub-calls
    # are refused with a note to the model, which is then asked for its best answer.
    on_subcall_limit: str = "raise"


class RunGuard:
    """Counts a run's (and its descendants') spend and stops the tree when a limit is hit."""

    def __init__(self, limits: Limits | None = None, parent: RunGuard | None = None):
        self.limits = limits or Limits()
        self.parent = parent
        self.started = time.monotonic()
        self.deadline = self.started + self.limits.max_timeout if self.limits.max_timeout else None
        self._lock = threading.Lock()
        self._usage: dict[str, ModelUsageSummary] = {}
        self.tokens = 0
        self.cost = 0.0
        self.subcalls = 0
        self.subcall_tokens = 0
        self._exhausted: str | None = None  # a sub-call budget spent in "finalize" mode
        self._tripped: RLMError | None = None
        self._interrupts: list[Callable[[], None]] = []
        self._children: list[RunGuard] = []
        self._warned_no_cost = False
        self._wake = threading.Condition(self._lock)
        self._done = False
        self._cancellable = False
        # Deadlines never change, so the earliest one of the chain is computed once.
        chain_deadlines = [g.deadline for g in self._chain() if g.deadline is not None]
        self._earliest_deadline = min(chain_deadlines) if chain_deadlines else None
        if parent is not None:
            parent._adopt(self)
        elif self.deadline is not None:
            threading.Thread(target=self._watch_deadline, name="rlm-deadline", daemon=True).start()

    # -- accounting -------------------------------------------------------------------------
    def charge(self, usage: CallUsage, *, subcall: bool = False) -> None:
        """Record one call here and in every ancestor, then enforce the limits."""
        self.record(usage, subcall=subcall)
        self.check()

    def _add(self, usage: CallUsage, subcall: bool = False) -> None:
        with self._lock:
            self._usage.setdefault(usage.model, ModelUsageSummary()).add(usage)
            self.tokens += usage.total_tokens
            if subcall:
                self.subcall_tokens += usage.total_tokens
            if usage.cost is not None:
                self.cost += usage.cost
            elif self.limits.max_budget is not None and not self._warned_no_cost:
                self._warned_no_cost = True
                log.warning(
                    "max_budget is set but model %r reports no cost; its calls count as $0. "
                    "Give the client a price table entry to enforce the budget.",
                    usage.model,
                )
        limits = self.limits
        if limits.max_tokens is not None and self.tokens > limits.max_tokens:
            self.trip(TokenLimitExceededError(self.tokens, limits.max_tokens))
        if limits.max_budget is not None and self.cost > limits.max_budget:
            self.trip(BudgetExceededError(self.cost, limits.max_budget))
        cap = limits.max_subcall_tokens
        if subcall and cap is not None and self.subcall_tokens > cap:
            if limits.on_subcall_limit == "finalize":
                self._exhausted = self._exhausted or f"max_subcall_tokens ({cap:,})"
            else:
                self.trip(SubcallTokenLimitExceededError(self.subcall_tokens, cap))

    # -- sub-call budgets -------------------------------------------------------------------
    def begin_subcall(self) -> str | None:
        """Count one sub-call here and in every ancestor. None: go ahead. A string: the
        budget is spent in "finalize" mode; reply that to the model instead of calling. In
        "raise" mode a spent budget trips the tree and raises."""
        self.check()
        chain = self._chain()
        with _SUBCALL_LOCK:
            for guard in chain:
                limits = guard.limits
                cap = limits.max_subcalls
                if guard._exhausted is None and cap is not None and guard.subcalls >= cap:
                    if limits.on_subcall_limit != "finalize":
                        guard.trip(SubcallLimitExceededError(guard.subcalls + 1, cap))
                        break
                    guard._exhausted = f"max_subcalls ({cap:,})"
                if guard._exhausted is not None:
                    return SUBCALL_LIMIT_NOTE.format(what=guard._exhausted)
            else:
                for guard in chain:
                    guard.subcalls += 1
                return None
        self.check()
        return None  # unreachable: the trip above raises in check()

    @property
    def exhausted(self) -> str | None:
        """Which sub-call budget is spent ("finalize" mode), here or above; else None."""
        for guard in self._chain():
            if guard._exhausted is not None:
                return guard._exhausted
        return None

    def usage_summary(self) -> UsageSummary:
        with self._lock:
            return UsageSummary({m: ModelUsageSummary(**vars(s)) for m, s in self._usage.items()})

    # -- tripping and checking --------------------------------------------------------------
    def trip(self, error: RLMError) -> None:
        """Stop this run and everything below it with `error` (first trip wins)."""
        with self._lock:
            if self._tripped is not None:
                return
            self._tripped = error
            self._wake.notify_all()
            interrupts = list(self._interrupts)
            children = list(self._children)
        for child in children:
            child.trip(error)
        for interrupt in interrupts:
            try:
                interrupt()
            except Exception:
                log.exception("interrupting a running cell failed")

    def cancel(self) -> None:
        self.trip(CancellationError())

    @property
    def tripped(self) -> RLMError | None:
        guard: RunGuard | None = self
        while guard is not None:
            if guard._tripped is not None:
                return guard._tripped
            guard = guard.parent
        return None

    def _chain(self) -> list[RunGuard]:
        chain = []
        guard: RunGuard | None = self
        while guard is not None:
            chain.append(guard)
            guard = guard.parent
        return chain

    def check(self) -> None:
        """Raise the error of any limit hit here or above (timeouts checked by the clock)."""
        if self._earliest_deadline is not None and time.monotonic() >= self._earliest_deadline:
            now = time.monotonic()
            for guard in self._chain():
                if guard.deadline is not None and now >= guard.deadline and guard._tripped is None:
                    guard.trip(
                        TimeoutExceededError(now - guard.started, guard.limits.max_timeout or 0)
                    )
        error = self.tripped
        if error is not None:
            raise _copy(error)

    def remaining_time(self) -> float | None:
        if self._earliest_deadline is None:
            return None
        return max(0.0, self._earliest_deadline - time.monotonic())

    # -- waiting and interrupting -----------------------------------------------------------
    def wait(self, future: Future[T]) -> T:
        """The future's result, unless a limit trips or Ctrl-C arrives first (and, when the
        thread pool is full, the future's task run right here: see workers.help_run)."""
        while True:
            self.check()
            help_run(future)
            remaining = self.remaining_time()
            step = _POLL if remaining is None else min(_POLL, remaining + 0.001)
            try:
                return future.result(timeout=step)
            except TimeoutError:
                continue

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking call (a model request) so that a deadline or a cancellation from
        another thread is noticed even while it hangs: on a pool thread, waited on.

        With no deadline and no remote cancellation in the chain, only Ctrl-C can stop the
        call, and it reaches the calling thread directly: the call then runs inline, which
        saves two thread hand-offs per root turn."""
        if self._earliest_deadline is None and not self._remote_cancel():
            self.check()
            return fn(*args, **kwargs)

        def guarded() -> T:
            # A request abandoned by a trip is told to stop (clients that can, do).
            with stop_when(self._should_stop):
                return fn(*args, **kwargs)

        return self.wait(POOL.submit(guarded))

    def _should_stop(self) -> bool:
        return self.tripped is not None or self.remaining_time() == 0.0

    def call_model(self, complete: Callable[..., LMResponse], *args: Any, **kwargs: Any) -> Any:
        """`call(complete, ...)` for a model request, charged to this guard exactly once.

        The charge happens on the thread that ran the request, when it returns: a request
        abandoned because a limit tripped while it hung is still counted when it finishes,
        so the usage summary never misses tokens the provider billed."""

        def charged() -> LMResponse:
            response = complete(*args, **kwargs)
            self.record(response.usage)
            return response

        response = self.call(charged)
        self.check()
        return response

    def record(self, usage: CallUsage, *, subcall: bool = False) -> None:
        """Count one call here and in every ancestor (tripping limits, raising nothing).
        `subcall`: an llm_query from this run's REPL; for ancestors, everything a child run
        spends is sub-call spend."""
        guard: RunGuard | None = self
        while guard is not None:
            guard._add(usage, subcall or guard is not self)
            guard = guard.parent

    def allow_remote_cancel(self) -> None:
        """`cancel()` may come from another thread (acompletion): never block inline."""
        self._cancellable = True

    def _remote_cancel(self) -> bool:
        return any(g._cancellable for g in self._chain())

    def on_trip(self, interrupt: Callable[[], None]) -> Callable[[], None]:
        """Call `interrupt` when this run trips; returns a function that unregisters it."""
        with self._lock:
            self._interrupts.append(interrupt)

        def remove() -> None:
            with self._lock:
                if interrupt in self._interrupts:
                    self._interrupts.remove(interrupt)

        return remove

    def _adopt(self, child: RunGuard) -> None:
        with self._lock:
            self._children.append(child)
            tripped = self._tripped
        if tripped is not None:
            child.trip(tripped)

    def release(self) -> None:
        """Detach from the parent when the run ends (the parent keeps the counts)."""
        if self.parent is not None:
            with self.parent._lock:
                if self in self.parent._children:
                    self.parent._children.remove(self)
        with self._lock:
            self._done = True
            self._wake.notify_all()

    def _watch_deadline(self) -> None:
        # Wakes exactly at the deadline so a long cell or sub-call is interrupted on time,
        # not at the next check between iterations.
        with self._lock:
            while self._tripped is None and not self._done:
                remaining = (self.deadline or 0) - time.monotonic()
                if remaining <= 0:
                    break
                self._wake.wait(remaining)
            if self._tripped is not None or self._done:
                return
        self.check_quietly()

    def check_quietly(self) -> None:
        try:
            self.check()
        except RLMError:
            pass  # the trip itself is the effect we want; the run raises it


def _copy(error: RLMError) -> RLMError:
    """A fresh exception of the same kind (one instance must not be raised in two threads)."""
    if isinstance(error, LimitExceededError):
        clone = type(error).__new__(type(error))
        clone.__dict__.update(error.__dict__)
        clone.args = error.args
        return clone
    if isinstance(error, CancellationError):
        return CancellationError(error.partial_answer)
    return error
