"""The host side of every REPL callback: `llm_query`, `rlm_query`, their batched forms, tools.

An environment hands the broker a name from an allow-list and a JSON payload; nothing else
crosses. In-process environments call `Broker.call` directly; out-of-process ones forward
the same (name, payload) pairs over their channel. Batches fan out on a thread pool bounded
by `max_concurrent_subcalls`, keep their order, and report a failed item in its own slot.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from rlm.clients.base import as_messages
from rlm.core.types import ModelUsageSummary, RLMChatCompletion, UsageSummary
from rlm.environments.base import HOST_CALLS
from rlm.errors import BrokerError, CancellationError, LimitExceededError, RLMError

if TYPE_CHECKING:
    from rlm.core.engine import RunScope

log = logging.getLogger("rlm")
PREVIEW_CHARS = 120


class Broker:
    """Serves one run's REPL callbacks. Records every sub-call for the trajectory."""

    def __init__(self, scope: RunScope):
        self.scope = scope
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, scope.config.max_concurrent_subcalls),
            thread_name_prefix=f"rlm-d{scope.depth}-sub",
        )
        self._calls: list[RLMChatCompletion] = []
        self._calls_lock = threading.Lock()
        self._tools: dict[str, Callable[..., Any]] = {
            t.name: t.value for t in scope.tools if t.is_callable
        }
        self._table: dict[str, Callable[..., Any]] = {
            "llm_query": self._llm_query,
            "llm_query_batched": self._llm_query_batched,
            "rlm_query": self._rlm_query,
            "rlm_query_batched": self._rlm_query_batched,
            "tool": self._tool,
        }
        assert set(self._table) == HOST_CALLS

    # -- the Host protocol ------------------------------------------------------------------
    def call(self, name: str, payload: dict[str, Any]) -> Any:
        handler = self._table.get(name)
        if handler is None or not isinstance(payload, dict):
            raise BrokerError(f"unknown host call {name!r}")
        try:
            return handler(**payload)
        except TypeError as exc:
            raise BrokerError(f"bad arguments for {name}: {exc}") from exc

    def drain_calls(self) -> list[RLMChatCompletion]:
        """The sub-calls recorded since the last drain (one code block's worth)."""
        with self._calls_lock:
            calls, self._calls = self._calls, []
        return calls

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- handlers ---------------------------------------------------------------------------
    def _llm_query(self, prompt: Any, model: str | None = None) -> str:
        return self.scope.guard.wait(self._pool.submit(self._one_llm_call, prompt, model))

    def _llm_query_batched(self, prompts: list[Any], model: str | None = None) -> list[str]:
        return self._batch(self._one_llm_call, prompts, model)

    def _rlm_query(self, prompt: Any, model: str | None = None) -> str:
        if not self.scope.can_recurse:
            return self._llm_query(prompt, model)
        return self.scope.guard.wait(self._pool.submit(self._one_child_run, prompt, model))

    def _rlm_query_batched(self, prompts: list[Any], model: str | None = None) -> list[str]:
        if not self.scope.can_recurse:
            return self._llm_query_batched(prompts, model)
        return self._batch(self._one_child_run, prompts, model)

    def _tool(self, name: str, args: list[Any] | None = None, kwargs: dict | None = None) -> Any:
        tool = self._tools.get(name)
        if tool is None:
            raise BrokerError(f"unknown tool {name!r}")
        return tool(*(args or []), **(kwargs or {}))

    # -- the work ---------------------------------------------------------------------------
    def _batch(self, one: Callable[[Any, str | None], str], prompts: list[Any], model: str | None):
        if not isinstance(prompts, list):
            raise TypeError("prompts must be a list")
        futures: list[Future[str]] = [self._pool.submit(one, p, model) for p in prompts]
        results = []
        for future in futures:
            try:
                results.append(self.scope.guard.wait(future))
            except (LimitExceededError, CancellationError):
                for f in futures:
                    f.cancel()
                raise
            except Exception as exc:  # one failure stays in its slot
                results.append(f"Error: {type(exc).__name__}: {exc}")
        return results

    def _one_llm_call(self, prompt: Any, model: str | None) -> str:
        scope = self.scope
        scope.guard.check()
        client = scope.router.pick(model, scope.depth + 1)
        name = client.model_name
        scope.fire("on_subcall_start", scope.depth + 1, name, _preview(prompt))
        start = time.perf_counter()
        error: str | None = None
        try:
            response = client.complete(as_messages(prompt), **scope.config.sub_sampling_args)
        except RLMError as exc:
            error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            elapsed = time.perf_counter() - start
            scope.fire("on_subcall_complete", scope.depth + 1, name, elapsed, error)
        self._record(
            RLMChatCompletion(
                root_model=name,
                prompt=prompt,
                response=response.text,
                usage_summary=UsageSummary({name: _single(response.usage)}),
                execution_time=elapsed,
            )
        )
        scope.guard.charge(response.usage)
        return response.text

    def _one_child_run(self, prompt: Any, model: str | None) -> str:
        scope = self.scope
        scope.guard.check()
        name = scope.router.pick(model, scope.depth + 1).model_name
        scope.fire("on_subcall_start", scope.depth + 1, name, _preview(prompt))
        start = time.perf_counter()
        error: str | None = None
        try:
            result = scope.spawn_child(prompt, model)
        except RLMError as exc:
            error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            scope.fire(
                "on_subcall_complete", scope.depth + 1, name, time.perf_counter() - start, error
            )
        self._record(result)
        return result.response

    def _record(self, completion: RLMChatCompletion) -> None:
        with self._calls_lock:
            self._calls.append(completion)


def _single(usage: Any) -> ModelUsageSummary:
    summary = ModelUsageSummary()
    summary.add(usage)
    return summary


def _preview(prompt: Any) -> str:
    text = prompt if isinstance(prompt, str) else str(prompt)
    return text[:PREVIEW_CHARS]
