"""`ProviderLM`: what every network-backed client shares.

One `complete` path for all providers: cache lookup -> test guard -> SDK request under the
retry policy (SDK exceptions mapped to `rlm.errors` at this boundary) -> exact usage from the
response -> cost (provider-reported, else the price table, else None) -> `record(usage)`.
A provider subclass only says how to build its SDK clients, send one request and read the
answer (`_send` / `_asend` returning a `RawResult`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from rlm.clients import guard
from rlm.clients.base import DEFAULT_TIMEOUT, BaseLM, as_messages
from rlm.clients.cache import ResponseCache, as_cache, cache_key
from rlm.clients.errors_map import ErrorContext, Failure, classify
from rlm.clients.pricing import PriceFn, PriceTable
from rlm.clients.retry import RetryPolicy, acall_with_retry, call_with_retry
from rlm.clients.sampling import normalize
from rlm.errors import ConfigurationError, ProviderError
from rlm.types import CallUsage, LMResponse, Message, Prompt

__all__ = ["ProviderLM", "RawResult"]

log = logging.getLogger("rlm.clients")


@dataclass(frozen=True)
class RawResult:
    """One provider answer, read straight from the response.

    `input_tokens` counts every prompt token (prompt-cache reads and writes included);
    `cost` is set only when the provider itself reported it."""

    text: str
    input_tokens: int
    output_tokens: int
    cost: float | None = None
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    model: str | None = None
    usage_missing: bool = False


class ProviderLM(BaseLM):
    """Base class of the SDK-backed clients. Keyword arguments shared by all of them:

    model_name, api_key (else the provider's environment variable), timeout (seconds per
    attempt), max_retries / retry (a `RetryPolicy`), sampling_args, prices / price_fn
    (price-table overrides), cache (path of a SQLite response cache). Anything else is
    passed to the SDK client's constructor (e.g. default_headers).
    """

    backend: ClassVar[str] = "provider"
    api_key_env: ClassVar[str | None] = None
    default_model: ClassVar[str | None] = None

    def __init__(
        self,
        model_name: str | None = None,
        *,
        timeout: float | None = None,
        max_retries: int = 4,
        retry: RetryPolicy | dict[str, Any] | None = None,
        sampling_args: dict[str, Any] | None = None,
        prices: dict[str, Any] | None = None,
        price_fn: PriceFn | None = None,
        cache: str | os.PathLike[str] | ResponseCache | None = None,
        **client_kwargs: Any,
    ):
        """Options every provider shares; anything else is passed on to the provider's SDK
        client (`self.client_kwargs`), so subclasses only name their own arguments."""
        model_name = model_name or self.default_model
        if not model_name:
            raise ConfigurationError(
                f"backend {self.backend!r} needs a model: backend_kwargs={{'model_name': ...}}"
            )
        super().__init__(
            model_name=model_name,
            timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
            sampling_args=sampling_args,
        )
        self.client_kwargs = client_kwargs
        if isinstance(retry, dict):  # from a JSON/CLI config
            retry = RetryPolicy(**{"max_retries": max_retries, **retry})
        self.retry = retry or RetryPolicy(max_retries=max_retries)
        self.prices = PriceTable(prices, price_fn)
        self.cache = as_cache(cache)
        self.endpoint: str | None = None  # the URL requests go to; None = provider default
        self._sdk_errors: tuple[type[BaseException], ...] = ()
        self._async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )
        self._async_lock = threading.Lock()
        self._warned_no_usage = False

    # -- for subclasses ----------------------------------------------------------------------
    def _send(self, model: str, messages: list[Message], args: dict[str, Any]) -> RawResult:
        raise NotImplementedError

    async def _asend(self, model: str, messages: list[Message], args: dict[str, Any]) -> RawResult:
        return await asyncio.to_thread(self._send, model, messages, args)

    def _make_async_client(self) -> Any:
        raise NotImplementedError

    def _async_client(self) -> Any:
        """One async SDK client per event loop: an httpx async pool is bound to the loop
        it was first used on, and callers may run several loops (asyncio.run per call)."""
        loop = asyncio.get_running_loop()
        with self._async_lock:  # loops in several threads may ask at once
            client = self._async_clients.get(loop)
            if client is None:
                client = self._make_async_client()
                self._async_clients[loop] = client
        return client

    def _key_hint(self) -> str:
        if self.api_key_env:
            return f"the {self.api_key_env} environment variable (or backend_kwargs['api_key'])"
        return "backend_kwargs['api_key']"

    def _resolve_api_key(self, api_key: str | None, *, required: bool = True) -> str | None:
        key = api_key or (os.environ.get(self.api_key_env) if self.api_key_env else None)
        if not key and required:
            raise ConfigurationError(
                f"backend {self.backend!r}: no API key. Set {self._key_hint()}."
            )
        return key

    # -- the shared path ---------------------------------------------------------------------
    def _classify(self, exc: BaseException) -> Failure | None:
        ctx = ErrorContext(
            backend=self.backend,
            model=self.model_name,
            endpoint=self.endpoint,
            key_hint=self._key_hint(),
            timeout=self.timeout,
        )
        return classify(exc, ctx, self._sdk_errors)

    def _prepare(
        self, prompt: Prompt | dict[str, Any], sampling: dict[str, Any]
    ) -> tuple[list[Message], dict[str, Any], str | None]:
        messages = as_messages(prompt)
        args = {**self.sampling_args, **sampling}
        key = None
        if self.cache is not None:
            key = cache_key(self.backend, self.model_name, messages, normalize(args))
        return messages, args, key

    def _finish(self, raw: RawResult, key: str | None) -> LMResponse:
        if raw.usage_missing and not self._warned_no_usage:
            self._warned_no_usage = True
            log.warning(
                "%s (%s) returned no token usage; counting 0 tokens and unknown cost for "
                "such calls. Token and budget limits cannot see them.",
                self.backend,
                self.model_name,
            )
        cost = raw.cost
        if cost is None and not raw.usage_missing:
            for name in dict.fromkeys([self.model_name, raw.model or self.model_name]):
                cost = self.prices.cost(
                    name,
                    raw.input_tokens,
                    raw.output_tokens,
                    raw.cached_input_tokens,
                    raw.cache_write_tokens,
                )
                if cost is not None:
                    break
        usage = CallUsage(
            model=self.model_name,
            input_tokens=raw.input_tokens,
            output_tokens=raw.output_tokens,
            cost=cost,
        )
        if key is not None and self.cache is not None:
            self.cache.put(key, raw.text, usage)
        return LMResponse(raw.text, self.record(usage))

    def complete(self, prompt: Prompt | dict[str, Any], **sampling: Any) -> LMResponse:
        messages, args, key = self._prepare(prompt, sampling)
        if key is not None and self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                return LMResponse(hit[0], self.record(hit[1]))
        guard.check_request(self.backend, self.model_name, self.endpoint)
        raw = call_with_retry(
            lambda: self._send(self.model_name, messages, args),
            self.retry,
            self._classify,
            what=f"{self.backend} call ({self.model_name})",
        )
        return self._finish(raw, key)

    def stream_complete(
        self, prompt: Prompt | dict[str, Any], on_text: Callable[[str], None], **sampling: Any
    ) -> LMResponse:
        """`complete` over the provider's streaming API (`_send_stream`), passing each piece
        of text on as it arrives. Retries happen only before the first piece: once text has
        been passed on, a failure is raised rather than repeating it."""
        if type(self)._send_stream is ProviderLM._send_stream:
            return super().stream_complete(prompt, on_text, **sampling)
        messages, args, key = self._prepare(prompt, sampling)
        if key is not None and self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                on_text(hit[0])
                return LMResponse(hit[0], self.record(hit[1]))
        guard.check_request(self.backend, self.model_name, self.endpoint)
        passed_on = False

        def emit(text: str) -> None:
            nonlocal passed_on
            if text:
                passed_on = True
                on_text(text)

        def attempt() -> RawResult:
            if passed_on:
                raise ProviderError(
                    f"{self.backend} ({self.model_name}): the stream broke after part of the "
                    "answer was delivered; ask again",
                    model=self.model_name,
                )
            return self._send_stream(self.model_name, messages, args, emit)

        raw = call_with_retry(
            attempt, self.retry, self._classify, what=f"{self.backend} call ({self.model_name})"
        )
        return self._finish(raw, key)

    def _send_stream(
        self,
        model: str,
        messages: list[Message],
        args: dict[str, Any],
        emit: Callable[[str], None],
    ) -> RawResult:
        """One streaming request: `emit` each text piece, return the whole answer and usage.
        Providers without a streaming API leave this unimplemented (one-piece fallback)."""
        raise NotImplementedError

    async def acomplete(self, prompt: Prompt | dict[str, Any], **sampling: Any) -> LMResponse:
        messages, args, key = self._prepare(prompt, sampling)
        if key is not None and self.cache is not None:
            hit = await asyncio.to_thread(self.cache.get, key)
            if hit is not None:
                return LMResponse(hit[0], self.record(hit[1]))
        guard.check_request(self.backend, self.model_name, self.endpoint)
        raw = await acall_with_retry(
            lambda: self._asend(self.model_name, messages, args),
            self.retry,
            self._classify,
            what=f"{self.backend} call ({self.model_name})",
        )
        if key is not None:
            return await asyncio.to_thread(self._finish, raw, key)
        return self._finish(raw, key)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "client": type(self).__name__,
            "backend": self.backend,
            "model_name": self.model_name,
            "timeout": self.timeout,
            "max_retries": self.retry.max_retries,
        }
        if self.endpoint:
            out["base_url"] = self.endpoint
        if self.sampling_args:
            out["sampling_args"] = dict(self.sampling_args)
        if self.cache is not None:
            out["cache"] = str(self.cache.path)
        return out

    def close(self) -> None:
        self._async_clients.clear()
        if self.cache is not None:
            self.cache.close()
