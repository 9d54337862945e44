"""`openai`: the official OpenAI SDK (Chat Completions), sync and async.

Also the base of the OpenAI-compatible family (openai_compatible.py) and Azure.
`stream=True` streams the answer (useful behind proxies that cut idle connections) and reads
usage from the final chunk (`stream_options={"include_usage": True}`).
A `usage.cost` in the response (OpenRouter and some gateways report it) is taken as the cost.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import openai

from rlm._bounded import as_int
from rlm.clients.errors_map import TruncatedResponseError, transport_errors
from rlm.clients.provider import ProviderLM, RawResult
from rlm.clients.sampling import to_openai
from rlm.errors import ProviderError
from rlm.types import Message

__all__ = ["OpenAIClient"]


def _reported_cost(usage: Any) -> float | None:
    """`usage.cost` (OpenRouter); for bring-your-own-key calls where `cost` is 0, the
    upstream provider's charge in `cost_details.upstream_inference_cost`."""
    cost = getattr(usage, "cost", None)
    details = getattr(usage, "cost_details", None)
    upstream = (
        details.get("upstream_inference_cost")
        if isinstance(details, dict)
        else getattr(details, "upstream_inference_cost", None)
    )
    if isinstance(cost, (int, float)) and not isinstance(cost, bool):
        if cost == 0 and isinstance(upstream, (int, float)) and upstream > 0:
            return float(upstream)
        return float(cost)
    return None


def _read_usage(usage: Any) -> dict[str, Any]:
    if usage is None:
        return {"input_tokens": 0, "output_tokens": 0, "usage_missing": True}
    details = getattr(usage, "prompt_tokens_details", None)
    return {
        "input_tokens": as_int(getattr(usage, "prompt_tokens", 0)),
        "output_tokens": as_int(getattr(usage, "completion_tokens", 0)),
        "cached_input_tokens": as_int(getattr(details, "cached_tokens", 0)),
        "cost": _reported_cost(usage),
    }


class OpenAIClient(ProviderLM):
    backend: ClassVar[str] = "openai"
    api_key_env: ClassVar[str | None] = "OPENAI_API_KEY"
    api_key_required: ClassVar[bool] = True
    default_base_url: ClassVar[str | None] = None  # the SDK's (OPENAI_BASE_URL or api.openai.com)
    max_tokens_param: ClassVar[str] = "max_completion_tokens"

    def __init__(
        self,
        model_name: str | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        stream: bool = False,
        **options: Any,
    ):
        """`options`: the shared provider options (timeout, max_retries, retry, sampling_args,
        prices, price_fn, cache; see ProviderLM); anything else goes to the SDK client."""
        super().__init__(model_name, **options)
        self.stream = stream
        self._api_key = self._resolve_api_key(api_key, required=self.api_key_required)
        self._base_url = base_url or self.default_base_url
        self._sdk_errors = (openai.OpenAIError, *transport_errors())
        self.client = self._make_client(openai.OpenAI)
        self.endpoint = str(self.client.base_url)

    # -- SDK clients -------------------------------------------------------------------------
    def _constructor_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            # Keyless local servers still need a non-empty string for the SDK.
            "api_key": self._api_key or "not-needed",
            "timeout": self.timeout,
            "max_retries": 0,  # rlm's RetryPolicy is the only retry layer
            **self.client_kwargs,
        }
        if self._base_url:
            kwargs["base_url"] = self._base_url
        return kwargs

    def _make_client(self, cls: type) -> Any:
        return cls(**self._constructor_kwargs())

    def _make_async_client(self) -> Any:
        return self._make_client(openai.AsyncOpenAI)

    # -- one request -------------------------------------------------------------------------
    def _request_args(
        self, model: str, messages: list[Message], args: dict[str, Any], stream: bool = False
    ) -> dict:
        kwargs = to_openai(args, max_tokens_param=self.max_tokens_param)
        kwargs.update(model=model, messages=messages)
        if self.stream or stream:
            kwargs["stream"] = True
            options = dict(kwargs.get("stream_options") or {})
            options.setdefault("include_usage", True)
            kwargs["stream_options"] = options
        return kwargs

    def _parse(self, response: Any) -> RawResult:
        choices = getattr(response, "choices", None) or []
        if not choices:
            raise ProviderError(
                f"{self.backend} ({self.model_name}): the response had no choices",
                model=self.model_name,
            )
        text = choices[0].message.content or ""
        return RawResult(
            text=text, model=getattr(response, "model", None), **_read_usage(response.usage)
        )

    def _parse_chunks(self, chunks: list[Any]) -> RawResult:
        parts: list[str] = []
        usage = None
        model = None
        finished = False
        for chunk in chunks:
            model = getattr(chunk, "model", None) or model
            if getattr(chunk, "usage", None) is not None:
                usage = chunk.usage
            for choice in getattr(chunk, "choices", None) or []:
                if choice.index != 0:
                    continue
                if choice.delta is not None and choice.delta.content:
                    parts.append(choice.delta.content)
                finished = finished or choice.finish_reason is not None
        if not finished:
            raise TruncatedResponseError(
                f"the stream ended after {len(parts)} piece(s) without a finish_reason "
                "(connection cut mid-answer)"
            )
        return RawResult(text="".join(parts), model=model, **_read_usage(usage))

    def _send(self, model: str, messages: list[Message], args: dict[str, Any]) -> RawResult:
        kwargs = self._request_args(model, messages, args)
        response = self.client.chat.completions.create(**kwargs)
        if self.stream:
            with response as stream:
                return self._parse_chunks(list(stream))
        return self._parse(response)

    def _send_stream(
        self,
        model: str,
        messages: list[Message],
        args: dict[str, Any],
        emit: Callable[[str], None],
    ) -> RawResult:
        kwargs = self._request_args(model, messages, args, stream=True)
        chunks = []
        with self.client.chat.completions.create(**kwargs) as stream:
            for chunk in stream:
                chunks.append(chunk)
                for choice in getattr(chunk, "choices", None) or []:
                    if choice.index == 0 and choice.delta is not None and choice.delta.content:
                        emit(choice.delta.content)
        return self._parse_chunks(chunks)

    async def _asend(self, model: str, messages: list[Message], args: dict[str, Any]) -> RawResult:
        kwargs = self._request_args(model, messages, args)
        response = await self._async_client().chat.completions.create(**kwargs)
        if self.stream:
            async with response as stream:
                return self._parse_chunks([chunk async for chunk in stream])
        return self._parse(response)

    def close(self) -> None:
        super().close()
        self.client.close()
