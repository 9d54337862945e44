"""`portkey`: the Portkey AI gateway through the `portkey-ai` SDK (OpenAI-shaped chat API).

Key from `api_key` or $PORTKEY_API_KEY; route with `virtual_key=`, `provider=` or `config=`
(passed to `Portkey(...)`); `base_url` for a self-hosted gateway. `model_name` is the model as
the routed provider names it. The SDK's own retry (its vendored OpenAI client retries once)
is switched off so rlm's RetryPolicy is the only retry layer.
"""

from __future__ import annotations

from typing import Any, ClassVar

import portkey_ai
from portkey_ai._vendor import openai as portkey_openai

from rlm.clients.openai import OpenAIClient
from rlm.types import Message

__all__ = ["PortkeyClient"]


def _no_sdk_retries(client: Any) -> Any:
    inner = getattr(client, "openai_client", None)
    if inner is not None and hasattr(inner, "max_retries"):
        inner.max_retries = 0
    return client


class PortkeyClient(OpenAIClient):
    backend: ClassVar[str] = "portkey"
    api_key_env: ClassVar[str | None] = "PORTKEY_API_KEY"
    # Portkey forwards to many providers; `max_tokens` is the one its gateway translates.
    max_tokens_param: ClassVar[str] = "max_tokens"

    def __init__(self, model_name: str | None = None, **kwargs: Any):
        if kwargs.get("stream"):
            kwargs["stream"] = False  # streaming through the gateway is not wired up here
        super().__init__(model_name, **kwargs)
        self._sdk_errors = (portkey_openai.OpenAIError,)

    def _constructor_kwargs(self) -> dict[str, Any]:
        kwargs = {"api_key": self._api_key, **self.client_kwargs}
        if self._base_url:
            kwargs["base_url"] = self._base_url
        return kwargs

    def _make_client(self, cls: type) -> Any:
        return _no_sdk_retries(portkey_ai.Portkey(**self._constructor_kwargs()))

    def _make_async_client(self) -> Any:
        return _no_sdk_retries(portkey_ai.AsyncPortkey(**self._constructor_kwargs()))

    def _request_args(self, model: str, messages: list[Message], args: dict[str, Any]) -> dict:
        kwargs = super()._request_args(model, messages, args)
        kwargs.setdefault("timeout", self.timeout)
        return kwargs

    def close(self) -> None:
        self._async_clients.clear()
        if self.cache is not None:
            self.cache.close()
