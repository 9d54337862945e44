"""`anthropic`: Claude through the official `anthropic` SDK (Messages API), sync and async.

System messages are moved to the `system` parameter (the Messages API has no system role);
consecutive messages of the same role are merged (the API requires alternation). `max_tokens`
is required by the API: it defaults to `default_max_tokens` (8192) unless sampling args set
it. Usage: `input_tokens` here counts every prompt token, i.e. Anthropic's `input_tokens` plus
`cache_read_input_tokens` and `cache_creation_input_tokens`, each priced at its own rate.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, ClassVar

import anthropic

from rlm._bounded import as_int
from rlm.clients.errors_map import transport_errors
from rlm.clients.provider import ProviderLM, RawResult
from rlm.clients.sampling import to_anthropic
from rlm.types import Message

__all__ = ["AnthropicClient"]

_SDK_PARAMS = frozenset(inspect.signature(anthropic.resources.Messages.create).parameters)


def _text_of(content: Any) -> str:
    """Message content as text: a str, or the text parts of a content-block list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "") if isinstance(part, dict) else str(part) for part in content
        )
    return "" if content is None else str(content)


def split_system(messages: list[Message]) -> tuple[str | None, list[dict[str, Any]]]:
    """(system text, alternating user/assistant messages) for the Messages API."""
    system_parts: list[str] = []
    turns: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role", "user")
        if role in ("system", "developer"):
            system_parts.append(_text_of(message.get("content")))
            continue
        role = "assistant" if role == "assistant" else "user"
        content = message.get("content")
        if turns and turns[-1]["role"] == role and isinstance(turns[-1]["content"], str):
            turns[-1]["content"] += "\n\n" + _text_of(content)
        else:
            turns.append(
                {
                    "role": role,
                    "content": content if isinstance(content, list) else _text_of(content),
                }
            )
    if not turns or turns[0]["role"] != "user":
        # The API requires the first turn to be the user's.
        turns.insert(0, {"role": "user", "content": "(continue)"})
    system = "\n\n".join(p for p in system_parts if p) or None
    return system, turns


class AnthropicClient(ProviderLM):
    backend: ClassVar[str] = "anthropic"
    api_key_env: ClassVar[str | None] = "ANTHROPIC_API_KEY"
    default_max_tokens: ClassVar[int] = 8192

    def __init__(
        self,
        model_name: str | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        max_tokens: int | None = None,
        **options: Any,
    ):
        """`options`: the shared provider options (timeout, max_retries, retry, sampling_args,
        prices, price_fn, cache; see ProviderLM); anything else goes to the SDK client."""
        super().__init__(model_name, **options)
        self.max_tokens = max_tokens or self.default_max_tokens
        self._sdk_kwargs = {
            "api_key": self._resolve_api_key(api_key),
            "timeout": self.timeout,
            "max_retries": 0,  # rlm's RetryPolicy is the only retry layer
            **self.client_kwargs,
        }
        if base_url:
            self._sdk_kwargs["base_url"] = base_url
        self._sdk_errors = (anthropic.AnthropicError, *transport_errors())
        self.client = anthropic.Anthropic(**self._sdk_kwargs)
        self.endpoint = str(self.client.base_url)

    def _make_async_client(self) -> Any:
        return anthropic.AsyncAnthropic(**self._sdk_kwargs)

    def _request_args(self, model: str, messages: list[Message], args: dict[str, Any]) -> dict:
        kwargs = to_anthropic(args, sdk_params=_SDK_PARAMS)
        kwargs.setdefault("max_tokens", self.max_tokens)
        system, turns = split_system(messages)
        if system is not None:
            kwargs["system"] = system
        kwargs.update(model=model, messages=turns)
        return kwargs

    def _parse(self, response: Any) -> RawResult:
        text = "".join(
            getattr(block, "text", "") or ""
            for block in (response.content or [])
            if getattr(block, "type", None) == "text"
        )
        usage = response.usage
        if usage is None:
            return RawResult(text, 0, 0, model=response.model, usage_missing=True)
        read = as_int(getattr(usage, "cache_read_input_tokens", 0))
        written = as_int(getattr(usage, "cache_creation_input_tokens", 0))
        return RawResult(
            text=text,
            input_tokens=as_int(usage.input_tokens) + read + written,
            output_tokens=as_int(usage.output_tokens),
            cached_input_tokens=read,
            cache_write_tokens=written,
            model=getattr(response, "model", None),
        )

    def _send(self, model: str, messages: list[Message], args: dict[str, Any]) -> RawResult:
        return self._parse(self.client.messages.create(**self._request_args(model, messages, args)))

    def _send_stream(
        self,
        model: str,
        messages: list[Message],
        args: dict[str, Any],
        emit: Callable[[str], None],
    ) -> RawResult:
        with self.client.messages.stream(**self._request_args(model, messages, args)) as stream:
            for text in stream.text_stream:
                emit(text)
            return self._parse(stream.get_final_message())

    async def _asend(self, model: str, messages: list[Message], args: dict[str, Any]) -> RawResult:
        response = await self._async_client().messages.create(
            **self._request_args(model, messages, args)
        )
        return self._parse(response)

    def close(self) -> None:
        super().close()
        self.client.close()
