"""Clients that are not ours: any object with the reference's `BaseLM` protocol
(`completion(prompt) -> str`, optionally `get_last_usage()`, `get_usage_summary()`).

`as_client` wraps such an object so the engine sees one seam (`complete` -> text + usage). The
wrapped object only reports usage as "last call" state, so its calls are serialised to keep
each text paired with its own usage.
"""

from __future__ import annotations

import threading
from typing import Any

from rlm.clients.base import BaseLM
from rlm.errors import ConfigurationError
from rlm.types import CallUsage, LMResponse, Prompt, UsageSummary


class ForeignLM(BaseLM):
    def __init__(self, wrapped: Any, model_name: str | None = None):
        own = getattr(wrapped, "model_name", None)
        super().__init__(model_name=model_name or (own if isinstance(own, str) else "unknown"))
        self.wrapped = wrapped
        self._lock = threading.Lock()

    def complete(self, prompt: Prompt | dict[str, Any], **sampling: Any) -> LMResponse:
        with self._lock:
            text = self.wrapped.completion(prompt)
            last = getattr(self.wrapped, "get_last_usage", None)
            summary = last() if callable(last) else None
        usage = CallUsage(
            model=self.model_name,
            input_tokens=_int(getattr(summary, "total_input_tokens", 0)),
            output_tokens=_int(getattr(summary, "total_output_tokens", 0)),
            cost=_cost(getattr(summary, "total_cost", None)),
        )
        self.record(usage)
        return LMResponse(text=text if isinstance(text, str) else str(text), usage=usage)

    def get_usage_summary(self) -> UsageSummary:
        own = getattr(self.wrapped, "get_usage_summary", None)
        summary = own() if callable(own) else None
        return summary if isinstance(summary, UsageSummary) else super().get_usage_summary()

    def close(self) -> None:
        close = getattr(self.wrapped, "close", None)
        if callable(close):
            close()


def as_client(obj: Any, model_name: str | None = None) -> BaseLM:
    """Our client as is; a reference-style client wrapped; anything else refused."""
    if isinstance(obj, BaseLM):
        return obj
    if callable(getattr(obj, "completion", None)):
        return ForeignLM(obj, model_name)
    raise ConfigurationError(
        f"{type(obj).__name__} is not a model client: pass a registered backend name, a "
        "rlm.clients.BaseLM, or an object with completion(prompt) -> str"
    )


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _cost(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
