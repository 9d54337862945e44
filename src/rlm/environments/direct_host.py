"""The host of an environment used on its own, outside an `RLM` run (the reference's style:
`LocalREPL(subcall_fn=..., custom_tools=...)`).

It serves the same allow-listed names as the engine's broker: `rlm_query` goes to the
`subcall_fn` the user gave (or falls back to `llm_query`), `llm_query` to an LM handler address
when one is given, tools to their callables. Without a model, a query returns an "Error: ..."
string for the model code to read, as the reference does; it never raises into the cell.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rlm.environments.base import HostTable
from rlm.errors import BrokerError

log = logging.getLogger("rlm")

SubcallFn = Callable[[str, str | None], Any]  # (prompt, model) -> RLMChatCompletion


class DirectHost(HostTable):
    """Host protocol (`call(name, payload)`) plus `drain_calls()` for one environment."""

    def __init__(
        self,
        *,
        tools: Mapping[str, Callable[..., Any]] | None = None,
        subcall_fn: SubcallFn | None = None,
        lm_handler_address: tuple[str, int] | None = None,
        max_concurrent_subcalls: int = 4,
        depth: int = 1,
    ):
        self.tools = dict(tools or {})
        self.subcall_fn = subcall_fn
        self.lm_handler_address = lm_handler_address
        self.max_concurrent_subcalls = max(1, int(max_concurrent_subcalls))
        # One bound for every rlm_query of this environment, also across concurrent batches.
        self._subcall_slots = threading.BoundedSemaphore(self.max_concurrent_subcalls)
        self.depth = depth
        self._calls: list[Any] = []
        self._lock = threading.Lock()

    def drain_calls(self) -> list[Any]:
        with self._lock:
            calls, self._calls = self._calls, []
        return calls

    def _record(self, completions: list[Any]) -> None:
        with self._lock:
            self._calls.extend(completions)

    # -- plain LM calls -------------------------------------------------------------------------
    def _llm_query(self, prompt: Any, model: str | None = None) -> str:
        return self._llm_query_batched([prompt], model)[0]

    def _llm_query_batched(self, prompts: list[Any], model: str | None = None) -> list[str]:
        if self.lm_handler_address is None:
            return ["Error: No LM handler configured"] * len(prompts)
        from rlm.environments.handler_wire import send_lm_request_batched

        try:
            responses = send_lm_request_batched(
                self.lm_handler_address, list(prompts), model=model, depth=self.depth
            )
        except (OSError, ValueError) as exc:
            return [f"Error: LM query failed - {exc}"] * len(prompts)
        out = []
        for response in responses:
            if response.success and response.chat_completion is not None:
                self._record([response.chat_completion])
                out.append(response.chat_completion.response)
            else:
                out.append(f"Error: {response.error}")
        return out

    # -- recursive calls ------------------------------------------------------------------------
    def _one_subcall(self, prompt: Any, model: str | None) -> tuple[str, Any]:
        assert self.subcall_fn is not None
        try:
            with self._subcall_slots:
                completion = self.subcall_fn(prompt, model)
        except Exception as exc:  # the model reads the failure in its own slot
            return f"Error: RLM query failed - {exc}", None
        return completion.response, completion

    def _rlm_query(self, prompt: Any, model: str | None = None) -> str:
        return self._rlm_query_batched([prompt], model)[0]

    def _rlm_query_batched(self, prompts: list[Any], model: str | None = None) -> list[str]:
        if self.subcall_fn is None:
            return self._llm_query_batched(prompts, model)
        prompts = list(prompts)
        if len(prompts) <= 1:
            outcomes = [self._one_subcall(p, model) for p in prompts]
        else:
            workers = min(self.max_concurrent_subcalls, len(prompts))
            with ThreadPoolExecutor(workers, thread_name_prefix="rlm-subcall") as pool:
                outcomes = list(pool.map(lambda p: self._one_subcall(p, model), prompts))
        # Recorded in prompt order; failed calls have no completion to record.
        self._record([c for _, c in outcomes if c is not None])
        return [text for text, _ in outcomes]

    # -- tools ----------------------------------------------------------------------------------
    def _tool(self, name: str, args: list[Any] | None = None, kwargs: dict | None = None) -> Any:
        tool = self.tools.get(name)
        if tool is None:
            raise BrokerError(f"unknown tool {name!r}")
        return tool(*(args or []), **(kwargs or {}))
