"""The host side of every REPL callback: `llm_query`, `rlm_query`, their batched forms, tools.

An environment hands the broker a name from an allow-list and a JSON payload; nothing else
crosses. In-process environments call `Broker.call` directly; out-of-process ones forward
the same (name, payload) pairs over their channel. Batches fan out on a thread pool bounded
by `max_concurrent_subcalls`, keep their order, and report a failed item in its own slot.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from rlm._bounded import preview
from rlm.clients.base import BaseLM, as_messages
from rlm.core.workers import LOOP, BoundedRunner
from rlm.environments.base import HostTable
from rlm.errors import BrokerError, CancellationError, LimitExceededError, RLMError
from rlm.types import LMResponse, ModelUsageSummary, RLMChatCompletion, UsageSummary

if TYPE_CHECKING:
    from rlm.core.scope import RunScope

log = logging.getLogger("rlm")
PREVIEW_CHARS = 120


class Broker(HostTable):
    """Serves one run's REPL callbacks. Records every sub-call for the trajectory."""

    def __init__(self, scope: RunScope, spawn: Callable[[Any, str | None], RLMChatCompletion]):
        self.scope = scope
        self._spawn = spawn  # runs a child RLM: (prompt, model) -> its completion
        self._pool = BoundedRunner(scope.config.max_concurrent_subcalls)
        self._semaphore: asyncio.Semaphore | None = None  # created on the loop thread
        # Slots are reserved when a call is submitted, so records keep the order of the
        # prompts, not the order in which the calls happened to finish.
        self._calls: list[_Slot] = []
        self._calls_lock = threading.Lock()
        self._tools: dict[str, Callable[..., Any]] = {
            t.name: t.value for t in scope.tools if t.is_callable
        }

    # -- the Host protocol (`call`, from HostTable) -----------------------------------------
    def drain_calls(self) -> list[RLMChatCompletion]:
        """The sub-calls recorded since the last drain (one code block's worth)."""
        with self._calls_lock:
            calls, self._calls = self._calls, []
        return [slot.record for slot in calls if slot.record is not None]

    def close(self) -> None:
        """Queued sub-calls of a finished run are cancelled; running ones finish unobserved."""
        self._pool.cancel_waiting()

    # -- handlers ---------------------------------------------------------------------------
    def _llm_query(self, prompt: Any, model: str | None = None) -> str:
        return self._wait(self._submit_llm(prompt, model))

    def _llm_query_batched(self, prompts: list[Any], model: str | None = None) -> list[str]:
        _require_list(prompts)
        scope = self.scope
        scope.guard.check()
        client = scope.router.pick(model, scope.depth + 1)
        # Counted against max_subcalls here, in prompt order, so which items a spent budget
        # refuses does not depend on thread timing.
        refusals = [scope.guard.begin_subcall() for _ in prompts]
        if client.native_async:
            # The whole batch is one task on the loop: one wake-up instead of one per prompt.
            return self._wait(LOOP.submit(self._batch_async(client, prompts, refusals)))
        return self._collect(
            [
                _done(note)
                if note
                else self._pool.submit(self._one_llm_call, client, p, self._reserve())
                for p, note in zip(prompts, refusals, strict=True)
            ]
        )

    def _rlm_query(self, prompt: Any, model: str | None = None) -> str:
        if not self.scope.can_recurse:
            return self._llm_query(prompt, model)
        note = self.scope.guard.begin_subcall()
        if note:
            return note
        return self._wait(self._pool.submit(self._one_child_run, prompt, model, self._reserve()))

    def _rlm_query_batched(self, prompts: list[Any], model: str | None = None) -> list[str]:
        if not self.scope.can_recurse:
            return self._llm_query_batched(prompts, model)
        _require_list(prompts)
        refusals = [self.scope.guard.begin_subcall() for _ in prompts]
        return self._collect(
            [
                _done(note)
                if note
                else self._pool.submit(self._one_child_run, p, model, self._reserve())
                for p, note in zip(prompts, refusals, strict=True)
            ]
        )

    def _tool(self, name: str, args: list[Any] | None = None, kwargs: dict | None = None) -> Any:
        tool = self._tools.get(name)
        if tool is None:
            raise BrokerError(f"unknown tool {name!r}")
        result = tool(*(args or []), **(kwargs or {}))
        if inspect.isawaitable(result):  # an `async def` tool runs on the shared loop
            return self._wait(LOOP.submit(_awaited(result)))
        return result

    # -- the work ---------------------------------------------------------------------------
    def _wait(self, future: Future[Any]) -> Any:
        """Wait for a call; if a limit trips or Ctrl-C arrives first, cancel what is left."""
        try:
            return self.scope.guard.wait(future)
        except BaseException:
            future.cancel()
            raise

    def _collect(self, futures: list[Future[str]]) -> list[str]:
        """Results in order; a failed item becomes an error string in its own slot."""
        results = []
        for future in futures:
            try:
                results.append(self.scope.guard.wait(future))
            except (LimitExceededError, CancellationError):
                for f in futures:
                    f.cancel()
                raise
            except Exception as exc:
                results.append(f"Error: {type(exc).__name__}: {exc}")
        return results

    async def _batch_async(
        self, client: BaseLM, prompts: list[Any], refusals: list[str | None]
    ) -> list[str]:
        slots = [None if note else self._reserve() for note in refusals]
        tasks = [
            asyncio.ensure_future(
                _refused(note) if note else self._one_llm_call_async(client, p, slot)
            )
            for p, slot, note in zip(prompts, slots, refusals, strict=True)
        ]
        try:
            outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        except asyncio.CancelledError:
            for task in tasks:
                task.cancel()
            raise
        results = []
        for outcome in outcomes:
            if isinstance(outcome, (LimitExceededError, CancellationError)):
                raise outcome
            if isinstance(outcome, BaseException):
                results.append(f"Error: {type(outcome).__name__}: {outcome}")
            else:
                results.append(outcome)
        return results

    def _submit_llm(self, prompt: Any, model: str | None) -> Future[str]:
        scope = self.scope
        scope.guard.check()
        client = scope.router.pick(model, scope.depth + 1)
        note = scope.guard.begin_subcall()
        if note:
            return _done(note)
        if client.native_async:
            return LOOP.submit(self._one_llm_call_async(client, prompt, self._reserve()))
        return self._pool.submit(self._one_llm_call, client, prompt, self._reserve())

    def _one_llm_call(self, client: BaseLM, prompt: Any, slot: _Slot) -> str:
        started = self._started(client, prompt)
        try:
            response = client.complete(as_messages(prompt), **self.scope.config.sub_sampling_args)
        except BaseException as exc:
            self._failed(client, started, exc)
            raise
        return self._finished(client, prompt, started, response, slot)

    async def _one_llm_call_async(self, client: BaseLM, prompt: Any, slot: _Slot) -> str:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.scope.config.max_concurrent_subcalls)
        async with self._semaphore:
            started = self._started(client, prompt)
            try:
                response = await client.acomplete(
                    as_messages(prompt), **self.scope.config.sub_sampling_args
                )
            except BaseException as exc:
                self._failed(client, started, exc)
                raise
        return self._finished(client, prompt, started, response, slot)

    def _started(self, client: BaseLM, prompt: Any) -> float:
        scope = self.scope
        scope.guard.check()  # a call queued behind the concurrency bound may start after a trip
        if scope.observed:
            scope.observer.subcall_started(scope.depth + 1, client.model_name, _preview(prompt))
        return time.perf_counter()

    def _failed(self, client: BaseLM, started: float, exc: BaseException) -> None:
        elapsed = time.perf_counter() - started
        error = f"{type(exc).__name__}: {exc}"
        self.scope.observer.subcall_completed(
            self.scope.depth + 1, client.model_name, elapsed, error
        )

    def _finished(
        self, client: BaseLM, prompt: Any, started: float, response: LMResponse, slot: _Slot
    ) -> str:
        scope = self.scope
        elapsed = time.perf_counter() - started
        scope.observer.subcall_completed(scope.depth + 1, client.model_name, elapsed, None)
        name = response.usage.model or client.model_name
        self._record(
            RLMChatCompletion(
                root_model=client.model_name,
                prompt=prompt,
                response=response.text,
                usage_summary=UsageSummary({name: _single(response.usage)}),
                execution_time=elapsed,
            ),
            slot,
        )
        scope.guard.charge(response.usage, subcall=True)
        return response.text

    def _one_child_run(self, prompt: Any, model: str | None, slot: _Slot) -> str:
        scope = self.scope
        scope.guard.check()
        name = scope.router.pick(model, scope.depth + 1).model_name
        observer = scope.observer
        if scope.observed:
            observer.subcall_started(scope.depth + 1, name, _preview(prompt))
        start = time.perf_counter()
        error: str | None = None
        try:
            result = self._spawn(prompt, model)
        except RLMError as exc:
            error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            observer.subcall_completed(scope.depth + 1, name, time.perf_counter() - start, error)
        self._record(result, slot)
        return result.response

    def _reserve(self) -> _Slot:
        slot = _Slot()
        with self._calls_lock:
            self._calls.append(slot)
        return slot

    @staticmethod
    def _record(completion: RLMChatCompletion, slot: _Slot) -> None:
        # A call that outlives its cell fills a slot already drained: it is not logged twice.
        slot.record = completion


class _Slot:
    __slots__ = ("record",)

    def __init__(self) -> None:
        self.record: RLMChatCompletion | None = None


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def _done(value: str) -> Future[str]:
    future: Future[str] = Future()
    future.set_result(value)
    return future


async def _refused(note: str) -> str:
    return note


def _require_list(prompts: Any) -> None:
    if not isinstance(prompts, list):
        raise TypeError(f"prompts must be a list, not {type(prompts).__name__}")


def _single(usage: Any) -> ModelUsageSummary:
    summary = ModelUsageSummary()
    summary.add(usage)
    return summary


def _preview(prompt: Any) -> str:
    return preview(prompt, PREVIEW_CHARS)
