"""`litellm`: any provider LiteLLM supports, through `litellm.completion` / `acompletion`.

`model_name` uses LiteLLM's "provider/model" form (e.g. "anthropic/claude-sonnet-4-5",
"openai/gpt-4o-mini"); keys come from the provider's usual variable, which LiteLLM reads
(or `api_key=`); `base_url` (LiteLLM's `api_base`) points it at a proxy or local server.
Cost: a provider-reported `usage.cost` wins; then, unless you gave this client
`prices`/`price_fn`, LiteLLM's own computed cost (its price map is broad); then rlm's table.
LiteLLM's retries are switched off (`num_retries=0`): rlm's RetryPolicy is the only layer.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from rlm.clients import guard

if guard.real_requests_blocked():
    # LiteLLM downloads its price map from GitHub at import time; under the test guard no
    # request may leave the machine, so use the copy bundled with the package.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm
import openai

from rlm.clients.openai import _read_usage
from rlm.clients.provider import ProviderLM, RawResult
from rlm.clients.sampling import to_openai
from rlm.errors import ProviderError
from rlm.types import Message

__all__ = ["LiteLLMClient"]


class LiteLLMClient(ProviderLM):
    backend: ClassVar[str] = "litellm"
    api_key_env: ClassVar[str | None] = None  # depends on the routed provider

    def __init__(
        self,
        model_name: str | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        **options: Any,
    ):
        """`options`: the shared provider options (timeout, max_retries, retry, sampling_args,
        prices, price_fn, cache; see ProviderLM); anything else goes to the SDK client."""
        super().__init__(model_name, **options)
        self._api_key = api_key
        self._user_prices = bool(options.get("prices")) or options.get("price_fn") is not None
        self._extra = self.client_kwargs
        if base_url:
            self._extra["api_base"] = base_url
        self.endpoint = base_url
        self._sdk_errors = (openai.OpenAIError, litellm.exceptions.APIError)

    def _key_hint(self) -> str:
        provider = self.model_name.split("/", 1)[0] if "/" in self.model_name else "the provider"
        return f"{provider}'s API key variable (e.g. OPENAI_API_KEY) or backend_kwargs['api_key']"

    def _request_args(self, model: str, messages: list[Message], args: dict[str, Any]) -> dict:
        kwargs: dict[str, Any] = {
            **self._extra,
            # LiteLLM takes the OpenAI names and translates `max_tokens` per provider.
            **to_openai(args, max_tokens_param="max_tokens"),
            "model": model,
            "messages": messages,
            "timeout": self.timeout,
            "num_retries": 0,
        }
        if self._api_key:
            kwargs["api_key"] = self._api_key
        return kwargs

    def _parse(self, response: Any) -> RawResult:
        choices = getattr(response, "choices", None) or []
        if not choices:
            raise ProviderError(
                f"litellm ({self.model_name}): the response had no choices", model=self.model_name
            )
        usage = _read_usage(getattr(response, "usage", None))
        if usage.get("cost") is None and not self._user_prices:
            hidden = getattr(response, "_hidden_params", None) or {}
            computed = hidden.get("response_cost") if isinstance(hidden, dict) else None
            if isinstance(computed, (int, float)) and computed > 0:
                usage["cost"] = float(computed)
        return RawResult(
            text=choices[0].message.content or "", model=getattr(response, "model", None), **usage
        )

    def _send(self, model: str, messages: list[Message], args: dict[str, Any]) -> RawResult:
        return self._parse(litellm.completion(**self._request_args(model, messages, args)))

    async def _asend(self, model: str, messages: list[Message], args: dict[str, Any]) -> RawResult:
        response = await litellm.acompletion(**self._request_args(model, messages, args))
        return self._parse(response)
