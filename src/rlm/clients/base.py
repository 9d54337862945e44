"""The model seam: `BaseLM.complete(prompt) -> LMResponse` (text plus that call's usage)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from rlm.types import CallUsage, LMResponse, Message, ModelUsageSummary, Prompt, UsageSummary

DEFAULT_TIMEOUT: float = 300.0


def as_messages(prompt: Prompt | dict[str, Any]) -> list[Message]:
    """A plain string is one user message; a single message dict becomes a one-item list."""
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    if isinstance(prompt, dict):
        return [dict(prompt)]
    return [dict(m) for m in prompt]


class BaseLM:
    """A language model client.

    Subclasses implement `complete` (and `acomplete` when they have a native async client).
    Each call returns its own usage; the client keeps a running total only for
    `get_usage_summary`, never as a channel for the engine.

    Subclasses written for the reference implementation (overriding `completion` and
    `get_last_usage`) still work: `complete` falls back to them under a lock.
    """

    #: Context window in tokens, used by compaction; None when unknown.
    context_window: int | None = None
    #: A root system prompt template suited to this model (same placeholders as
    #: rlm.core.prompts.SYSTEM_PROMPT), used when the user gives no custom_system_prompt.
    #: Small local models follow a short concrete recipe better than the general prompt.
    preferred_system_prompt: str | None = None

    def __init__(
        self,
        model_name: str = "unknown",
        timeout: float = DEFAULT_TIMEOUT,
        sampling_args: dict[str, Any] | None = None,
        **kwargs: Any,
    ):
        self.model_name = model_name
        self.timeout = timeout
        self.sampling_args: dict[str, Any] = dict(sampling_args or {})
        self.kwargs = kwargs
        self._totals: dict[str, ModelUsageSummary] = {}
        self._totals_lock = threading.Lock()
        self._legacy_lock = threading.Lock()

    # -- the seam ---------------------------------------------------------------------------
    def complete(self, prompt: Prompt | dict[str, Any], **sampling: Any) -> LMResponse:
        if type(self).completion is BaseLM.completion:
            raise NotImplementedError(f"{type(self).__name__} must implement complete()")
        # A reference-style subclass: its usage is only available as "last call" state, so
        # serialise calls to keep each text paired with its own usage.
        with self._legacy_lock:
            text = self.completion(prompt)
            last = getattr(self, "get_last_usage", None)
            summary = last() if callable(last) else None
        usage = CallUsage(
            model=self.model_name,
            input_tokens=int(getattr(summary, "total_input_tokens", 0) or 0),
            output_tokens=int(getattr(summary, "total_output_tokens", 0) or 0),
            cost=getattr(summary, "total_cost", None),
        )
        return LMResponse(text=text, usage=usage)

    async def acomplete(self, prompt: Prompt | dict[str, Any], **sampling: Any) -> LMResponse:
        return await asyncio.to_thread(self.complete, prompt, **sampling)

    def stream_complete(
        self, prompt: Prompt | dict[str, Any], on_text: Callable[[str], None], **sampling: Any
    ) -> LMResponse:
        """`complete`, calling `on_text` with each piece of the answer as the model produces
        it. Clients that cannot stream deliver the whole answer as one piece."""
        response = self.complete(prompt, **sampling)
        if response.text:
            on_text(response.text)
        return response

    @property
    def streams(self) -> bool:
        """True when `stream_complete` delivers the answer piece by piece."""
        return type(self).stream_complete is not BaseLM.stream_complete

    @property
    def native_async(self) -> bool:
        """True when `acomplete` does not just wrap `complete` in a thread: the broker then
        runs concurrent sub-calls on one event loop instead of one thread each."""
        return type(self).acomplete is not BaseLM.acomplete

    # -- conveniences -----------------------------------------------------------------------
    def completion(self, prompt: Prompt | dict[str, Any]) -> str:
        """Reference-compatible: the text only."""
        return self.complete(prompt).text

    async def acompletion(self, prompt: Prompt | dict[str, Any]) -> str:
        return (await self.acomplete(prompt)).text

    def record(self, usage: CallUsage) -> CallUsage:
        """Add a call to this client's running totals (for `get_usage_summary`)."""
        with self._totals_lock:
            self._totals.setdefault(usage.model, ModelUsageSummary()).add(usage)
        return usage

    def get_usage_summary(self) -> UsageSummary:
        with self._totals_lock:
            return UsageSummary({k: ModelUsageSummary(**vars(v)) for k, v in self._totals.items()})

    def describe(self) -> dict[str, Any]:
        """Configuration safe to log (no secrets)."""
        return {"model_name": self.model_name, "client": type(self).__name__}

    def close(self) -> None:
        """Release network clients or local model servers."""
