"""The OpenAI chat-completions wire format, as `rlm serve` speaks it.

A request's messages are the context (the REPL's `context` is the list of `{"role",
"content"}` messages) and its last user message is the query. An `rlm` object in the body
overrides allow-listed RLM settings for that request; limits can only be tightened, never
loosened past what the server was started with.
"""

from __future__ import annotations

import inspect
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from rlm.errors import ConfigurationError

# Per-request settings a client may send in `rlm`. Never the backend, its kwargs (keys, base
# URLs), the environment or the log directory: those are the operator's.
REQUEST_SETTINGS: frozenset[str] = frozenset(
    {
        "max_iterations",
        "max_depth",
        "max_budget",
        "max_timeout",
        "max_tokens",
        "max_errors",
        "max_concurrent_subcalls",
        "custom_system_prompt",
    }
)
_CAPPED = ("max_iterations", "max_depth", "max_budget", "max_timeout", "max_tokens",
           "max_errors", "max_concurrent_subcalls")  # fmt: skip


class RequestError(ConfigurationError):
    """The request cannot be served as sent (HTTP 400); the message says what to change."""


def _rlm_defaults() -> dict[str, Any]:
    from rlm import RLM

    params = inspect.signature(RLM.__init__).parameters
    return {name: params[name].default for name in _CAPPED}


def _text(content: Any, where: str) -> str:
    """Message content as text: a string, or the text parts of a content-part list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text":
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise RequestError(f"{where}: only text content is supported, not {kind!r}")
            parts.append(str(part.get("text", "")))
        return "".join(parts)
    if content is None:
        return ""
    raise RequestError(f"{where}: content must be a string or a list of text parts")


@dataclass
class ChatRequest:
    model: str
    context: list[dict[str, str]]
    query: str
    stream: bool = False
    include_usage: bool = False
    overrides: dict[str, Any] = field(default_factory=dict)


def parse_request(body: Any, base: dict[str, Any]) -> ChatRequest:
    """Validate a /v1/chat/completions body against the server's RLM settings `base`."""
    if not isinstance(body, dict):
        raise RequestError("the body must be a JSON object")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError("'messages' must be a non-empty list")
    context = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise RequestError(f"messages[{i}] must be an object with a 'role'")
        context.append({"role": message["role"],
                        "content": _text(message.get("content"), f"messages[{i}]")})  # fmt: skip
    query = next((m["content"] for m in reversed(context) if m["role"] == "user"), None)
    if not query or not query.strip():
        raise RequestError("there is no user message to answer (the last one is the query)")
    stream_options = body.get("stream_options") or {}
    return ChatRequest(
        model=str(body.get("model") or "rlm"),
        context=context,
        query=query,
        stream=bool(body.get("stream", False)),
        include_usage=bool(
            isinstance(stream_options, dict) and stream_options.get("include_usage")
        ),
        overrides=check_overrides(body.get("rlm"), base),
    )


def check_overrides(raw: Any, base: dict[str, Any]) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise RequestError("'rlm' must be an object of RLM settings")
    unknown = sorted(set(raw) - REQUEST_SETTINGS)
    if unknown:
        raise RequestError(
            f"'rlm' settings {unknown} cannot be set per request; allowed: "
            f"{sorted(REQUEST_SETTINGS)}"
        )
    defaults = _rlm_defaults()
    for name in _CAPPED:
        if name not in raw:
            continue
        value, ceiling = raw[name], base.get(name, defaults[name])
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RequestError(f"'rlm.{name}' must be a number")
        if ceiling is not None and value > ceiling:
            raise RequestError(
                f"'rlm.{name}' = {value} is above this server's {ceiling}; a request can "
                "only tighten the server's limits"
            )
    if "custom_system_prompt" in raw and not isinstance(
        raw["custom_system_prompt"], (str, type(None))
    ):
        raise RequestError("'rlm.custom_system_prompt' must be a string")
    return dict(raw)


def new_completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def openai_usage(usage: dict[str, Any] | None) -> dict[str, int]:
    summaries = (usage or {}).get("model_usage_summaries") or {}
    prompt = sum(int(s.get("total_input_tokens", 0)) for s in summaries.values())
    completion = sum(int(s.get("total_output_tokens", 0)) for s in summaries.values())
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}  # fmt: skip


def completion_body(cid: str, model: str, outcome: dict[str, Any]) -> dict[str, Any]:
    """A non-streaming chat.completion object; `outcome` comes from the app's run."""
    return {
        "id": cid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": outcome["content"]},
            "finish_reason": outcome["openai_finish_reason"],
        }],
        "usage": openai_usage(outcome.get("usage")),
        "rlm": outcome["rlm"],
    }  # fmt: skip


def chunk(cid: str, model: str, delta: dict[str, Any], finish_reason: str | None = None,
          **extra: Any) -> dict[str, Any]:  # fmt: skip
    return {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        **extra,
    }


def error_body(message: str, kind: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}
