"""SDK exceptions -> `rlm.errors`, at the client boundary.

The SDKs we wrap (openai, anthropic, portkey's vendored openai, google-genai, litellm) raise
different classes but expose the same facts: an HTTP status (`status_code`, or `code` for
google-genai), the response headers (for Retry-After), or a timeout / connection failure.
`classify` reads those facts by duck typing, so a vendored copy of an SDK (portkey) or a new
SDK release with renamed classes still maps correctly. Only exceptions that are instances of
the client's declared SDK error classes (plus the builtin TimeoutError / ConnectionError)
are mapped; anything else is a bug in our code or the caller's and propagates unchanged.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass
from typing import Any

from rlm.errors import (
    AuthenticationError,
    BadRequestError,
    ModelError,
    ProviderError,
    RateLimitError,
)

__all__ = [
    "ErrorContext",
    "Failure",
    "TruncatedResponseError",
    "classify",
    "parse_retry_after",
    "transport_errors",
]


class TruncatedResponseError(Exception):
    """A streamed answer ended before the provider said it was finished (connection cut
    mid-stream). Raised by clients, retried like a connection error: a partial answer must
    never pass for a whole one."""


def transport_errors() -> tuple[type[BaseException], ...]:
    """Transport errors of the HTTP stacks SDKs use (httpx, httpx2, aiohttp): SDKs wrap them for
    the request itself but not always while a streamed body is read, and google-genai does not
    wrap them at all."""
    found: list[type[BaseException]] = []
    for name, attr in (
        ("httpx", "TransportError"),
        ("httpx2", "TransportError"),
        ("aiohttp", "ClientError"),
    ):
        try:
            module = __import__(name)
        except ImportError:
            continue
        found.append(getattr(module, attr))
    return tuple(found)


# Statuses worth another attempt: request timeout, conflict/too early (transient locks),
# rate limit, server errors, Anthropic's 529 "overloaded".
_RETRYABLE_STATUS = {408, 409, 425, 429}
_TIMEOUT_NAMES = ("Timeout", "TimedOut")
_CONNECTION_NAMES = (
    "APIConnectionError",
    "ConnectError",
    "ConnectionError",
    "TransportError",
    "RemoteProtocolError",
    "ServerDisconnectedError",
    "ClientConnectorError",
    "ClientOSError",
    "ClientConnectionError",
    "ClientPayloadError",
    "NetworkError",
)


@dataclass(frozen=True)
class ErrorContext:
    """What a client knows that makes an error message actionable."""

    backend: str
    model: str
    endpoint: str | None
    key_hint: str  # e.g. "the OPENAI_API_KEY environment variable or backend_kwargs['api_key']"
    timeout: float | None = None


@dataclass(frozen=True)
class Failure:
    """A recognised provider failure: which `rlm.errors` class, whether to retry, and when."""

    cls: type[ModelError]
    message: str
    status: int | None
    retryable: bool
    retry_after: float | None
    model: str

    @property
    def summary(self) -> str:
        return f"HTTP {self.status}" if self.status is not None else self.cls.__name__

    def build(self, note: str = "") -> ModelError:
        return self.cls(self.message + note, model=self.model, status=self.status)


def parse_retry_after(headers: Any) -> float | None:
    """Seconds from `retry-after-ms`, or `Retry-After` as seconds or an HTTP date."""
    if headers is None:
        return None
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return max(0.0, float(ms) / 1000.0)
        value = headers.get("retry-after")
    except (AttributeError, TypeError, ValueError):
        return None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        pass
    try:
        when = email.utils.parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _status_of(exc: BaseException) -> int | None:
    for attr in ("status_code", "code", "status"):
        value = getattr(exc, attr, None)
        if isinstance(value, int) and 100 <= value <= 599:
            return value
    response = getattr(exc, "response", None)
    value = getattr(response, "status_code", None)
    if isinstance(value, int):
        return value
    return None


def _provider_message(exc: BaseException) -> str:
    """The provider's own explanation, short."""
    for attr in ("api_message", "message"):
        value = getattr(exc, attr, None)
        if isinstance(value, str) and value.strip():
            return value.strip()[:500]
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return err["message"][:500]
    return str(exc).strip()[:500] or type(exc).__name__


def _names(exc: BaseException) -> list[str]:
    return [c.__name__ for c in type(exc).__mro__]


def classify(
    exc: BaseException, ctx: ErrorContext, sdk_errors: tuple[type[BaseException], ...]
) -> Failure | None:
    """Map one exception to a `Failure`, or None when it is not a provider failure."""
    if not isinstance(exc, (*sdk_errors, TimeoutError, ConnectionError, TruncatedResponseError)):
        return None
    where = f"{ctx.backend} ({ctx.model})"
    if isinstance(exc, TruncatedResponseError):
        return Failure(ProviderError, f"{where}: {exc}", None, True, None, ctx.model)
    status = _status_of(exc)
    names = _names(exc)
    if status is None:
        if isinstance(exc, TimeoutError) or any(t in n for n in names for t in _TIMEOUT_NAMES):
            limit = f" after {ctx.timeout:g}s" if ctx.timeout else ""
            return Failure(
                ProviderError,
                f"{where}: the request timed out{limit}. Raise `timeout` in backend_kwargs "
                "if the model needs longer.",
                None,
                True,
                None,
                ctx.model,
            )
        if isinstance(exc, ConnectionError) or any(n in _CONNECTION_NAMES for n in names):
            return Failure(
                ProviderError,
                f"{where}: could not reach {ctx.endpoint or 'the provider'} "
                f"({_provider_message(exc)}). Check `base_url` and that the server is up.",
                None,
                True,
                None,
                ctx.model,
            )
        # An SDK error without a status (a malformed response, a client-side check):
        # retrying will not help.
        return Failure(
            BadRequestError,
            f"{where}: {type(exc).__name__}: {_provider_message(exc)}",
            None,
            False,
            None,
            ctx.model,
        )

    detail = _provider_message(exc)
    headers = getattr(getattr(exc, "response", None), "headers", None)
    if status in (401, 403):
        verb = "rejected the credentials" if status == 401 else "refused access"
        return Failure(
            AuthenticationError,
            f"{where}: the provider {verb} (HTTP {status}: {detail}). "
            f"Set {ctx.key_hint} to a valid key with access to model {ctx.model!r}.",
            status,
            False,
            None,
            ctx.model,
        )
    if status == 429:
        return Failure(
            RateLimitError,
            f"{where}: rate limited (HTTP 429: {detail}). Lower max_concurrent_subcalls, "
            "raise max_retries, or ask the provider for a higher limit.",
            status,
            True,
            parse_retry_after(headers),
            ctx.model,
        )
    if status >= 500 or status in _RETRYABLE_STATUS:
        return Failure(
            ProviderError,
            f"{where}: the provider failed (HTTP {status}: {detail}).",
            status,
            True,
            parse_retry_after(headers),
            ctx.model,
        )
    hint = ""
    if status == 404:
        hint = (
            f" Check model_name={ctx.model!r} and base_url="
            f"{ctx.endpoint or '(default)'}; the model or endpoint does not exist there."
        )
    elif status in (400, 422):
        hint = " Check the model name and sampling_args for this provider."
    return Failure(
        BadRequestError,
        f"{where}: the provider rejected the request (HTTP {status}: {detail}).{hint}",
        status,
        False,
        None,
        ctx.model,
    )
