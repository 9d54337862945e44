"""`gemini`: Google Gemini through the official `google-genai` SDK (generateContent).

System messages become `system_instruction`; "assistant" turns become role "model". Key from
`api_key` or $GEMINI_API_KEY (then $GOOGLE_API_KEY). `base_url` overrides the endpoint
(`http_options.base_url`). Usage comes from `usage_metadata`: output tokens are
`candidates_token_count + thoughts_token_count`, since thinking tokens are billed as output.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, ClassVar

from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from rlm._bounded import as_int
from rlm.clients.errors_map import Failure, transport_errors
from rlm.clients.provider import ProviderLM, RawResult
from rlm.clients.sampling import to_gemini
from rlm.errors import AuthenticationError
from rlm.types import Message

__all__ = ["GeminiClient"]

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com/"


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return "" if content is None else str(content)


def to_contents(messages: list[Message]) -> tuple[str | None, list[Any]]:
    system_parts: list[str] = []
    contents: list[Any] = []
    for message in messages:
        role = message.get("role", "user")
        text = _text(message.get("content"))
        if role in ("system", "developer"):
            system_parts.append(text)
            continue
        contents.append(
            genai_types.Content(
                role="model" if role == "assistant" else "user",
                parts=[genai_types.Part(text=text)],
            )
        )
    return "\n\n".join(p for p in system_parts if p) or None, contents


class GeminiClient(ProviderLM):
    backend: ClassVar[str] = "gemini"
    api_key_env: ClassVar[str | None] = "GEMINI_API_KEY"
    default_model: ClassVar[str | None] = "gemini-2.5-flash"

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
        key = api_key or os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY")
        self._api_key = self._resolve_api_key(key)
        self._http_options = genai_types.HttpOptions(
            base_url=base_url,
            timeout=int(self.timeout * 1000),  # milliseconds
            # One attempt: rlm's RetryPolicy is the only retry layer.
            retry_options=genai_types.HttpRetryOptions(attempts=1),
        )
        self._sdk_errors = (genai_errors.APIError, *transport_errors())
        self.client = self._make_async_client()
        self.endpoint = base_url or DEFAULT_BASE_URL

    def _classify(self, exc: BaseException) -> Failure | None:
        failure = super()._classify(exc)
        # Gemini answers a bad key with 400 INVALID_ARGUMENT (reason API_KEY_INVALID), not 401.
        if (
            failure is not None
            and failure.status == 400
            and (
                "API_KEY_INVALID" in str(getattr(exc, "details", ""))
                or "API key" in failure.message
            )
        ):
            return Failure(
                AuthenticationError,
                f"gemini ({self.model_name}): the provider rejected the API key "
                f"({getattr(exc, 'message', None) or exc}). Set {self._key_hint()} to a valid key.",
                400,
                False,
                None,
                self.model_name,
            )
        return failure

    def _make_async_client(self) -> Any:
        # A fresh genai.Client per event loop (its async httpx pool is loop-bound); `.aio`
        # is taken by the caller.
        return genai.Client(
            api_key=self._api_key, http_options=self._http_options, **self.client_kwargs
        )

    def _request(self, messages: list[Message], args: dict[str, Any]) -> tuple[Any, Any]:
        system, contents = to_contents(messages)
        config_fields = to_gemini(args)
        if system is not None:
            config_fields["system_instruction"] = system
        if isinstance(config_fields.get("thinking_config"), dict):
            # Validated here so a misspelt field fails before any request is sent.
            config_fields["thinking_config"] = genai_types.ThinkingConfig(
                **config_fields["thinking_config"]
            )
        config = genai_types.GenerateContentConfig(**config_fields) if config_fields else None
        return contents, config

    def _parse(self, response: Any) -> RawResult:
        parts: list[str] = []
        candidates = getattr(response, "candidates", None) or []
        if candidates and candidates[0].content is not None:
            for part in candidates[0].content.parts or []:
                # Thought summaries are not the answer.
                if getattr(part, "text", None) and not getattr(part, "thought", False):
                    parts.append(part.text)
        usage = getattr(response, "usage_metadata", None)
        model = getattr(response, "model_version", None)
        if usage is None:
            return RawResult("".join(parts), 0, 0, model=model, usage_missing=True)
        return RawResult(
            text="".join(parts),
            input_tokens=as_int(usage.prompt_token_count),
            output_tokens=as_int(usage.candidates_token_count) + as_int(usage.thoughts_token_count),
            cached_input_tokens=as_int(usage.cached_content_token_count),
            model=model,
        )

    def _send(self, model: str, messages: list[Message], args: dict[str, Any]) -> RawResult:
        contents, config = self._request(messages, args)
        response = self.client.models.generate_content(
            model=model, contents=contents, config=config
        )
        return self._parse(response)

    def _send_stream(
        self,
        model: str,
        messages: list[Message],
        args: dict[str, Any],
        emit: Callable[[str], None],
    ) -> RawResult:
        contents, config = self._request(messages, args)
        pieces: list[str] = []
        last = None
        for chunk in self.client.models.generate_content_stream(
            model=model, contents=contents, config=config
        ):
            piece = self._parse(chunk).text
            if piece:
                pieces.append(piece)
                emit(piece)
            last = chunk
        if last is None:
            return RawResult("", 0, 0, usage_missing=True)
        usage = self._parse(last)  # the last chunk carries the whole call's usage
        return RawResult(
            text="".join(pieces),
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cached_input_tokens=usage.cached_input_tokens,
            model=usage.model,
            usage_missing=usage.usage_missing,
        )

    async def _asend(self, model: str, messages: list[Message], args: dict[str, Any]) -> RawResult:
        contents, config = self._request(messages, args)
        response = await self._async_client().aio.models.generate_content(
            model=model, contents=contents, config=config
        )
        return self._parse(response)

    def close(self) -> None:
        super().close()
        close = getattr(self.client, "close", None)
        if callable(close):
            close()
