"""`sampling_args` in one vocabulary, translated to each provider's own parameter names.

Canonical names (the OpenAI ones users already know): `temperature`, `top_p`, `max_tokens`,
`seed`, `reasoning_effort` ("minimal" | "low" | "medium" | "high" | ...), `stop` (str or list).
Accepted aliases: `max_output_tokens`, `max_completion_tokens`, `max_new_tokens` ->
`max_tokens`; `stop_sequences` -> `stop`. Any other key is provider-specific and passes through
to the SDK call unchanged (e.g. `top_k`, `frequency_penalty`, `extra_body`). A canonical
option a provider cannot honour is dropped with a warning in the log, never silently.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["CANONICAL", "normalize", "to_anthropic", "to_gemini", "to_openai"]

log = logging.getLogger("rlm.clients")

CANONICAL = ("temperature", "top_p", "max_tokens", "seed", "reasoning_effort", "stop")
_ALIASES = {
    "max_output_tokens": "max_tokens",
    "max_completion_tokens": "max_tokens",
    "max_new_tokens": "max_tokens",
    "stop_sequences": "stop",
}


def normalize(args: dict[str, Any] | None) -> dict[str, Any]:
    """Aliases folded into canonical names; None values dropped (None means "unset")."""
    out: dict[str, Any] = {}
    for key, value in (args or {}).items():
        if value is None:
            continue
        out[_ALIASES.get(key, key)] = value
    return out


def _stop_list(stop: Any) -> list[str]:
    return [stop] if isinstance(stop, str) else list(stop)


def to_openai(args: dict[str, Any], *, max_tokens_param: str = "max_completion_tokens") -> dict:
    """Chat Completions keywords. OpenAI's own API wants `max_completion_tokens` (reasoning
    models reject `max_tokens`); most OpenAI-compatible servers still read `max_tokens`."""
    out = normalize(args)
    if "max_tokens" in out and max_tokens_param != "max_tokens":
        out[max_tokens_param] = out.pop("max_tokens")
    return out


def to_anthropic(args: dict[str, Any], *, sdk_params: frozenset[str]) -> dict[str, Any]:
    """Messages API keywords: `stop_sequences`; `reasoning_effort` -> `output_config.effort`.

    Options the installed SDK's `messages.create` does not declare (recent SDKs dropped
    `temperature`/`top_p` from the signature) go in `extra_body`, which the API still reads."""
    out = normalize(args)
    if "stop" in out:
        out["stop_sequences"] = _stop_list(out.pop("stop"))
    if "seed" in out:
        log.warning("anthropic has no `seed` parameter; dropping seed=%r", out.pop("seed"))
    if "reasoning_effort" in out:
        effort = out.pop("reasoning_effort")
        config = dict(out.get("output_config") or {})
        config.setdefault("effort", effort)
        out["output_config"] = config
    extra = dict(out.pop("extra_body", None) or {})
    for key in list(out):
        if key not in sdk_params:
            extra[key] = out.pop(key)
    if extra:
        out["extra_body"] = extra
    return out


_GEMINI_EFFORT = {"minimal": "MINIMAL", "low": "LOW", "medium": "MEDIUM", "high": "HIGH"}


def to_gemini(args: dict[str, Any]) -> dict[str, Any]:
    """`GenerateContentConfig` fields: `max_output_tokens`, `stop_sequences`, and
    `reasoning_effort` -> `thinking_config.thinking_level`."""
    out = normalize(args)
    if "max_tokens" in out:
        out["max_output_tokens"] = out.pop("max_tokens")
    if "stop" in out:
        out["stop_sequences"] = _stop_list(out.pop("stop"))
    if "reasoning_effort" in out:
        effort = str(out.pop("reasoning_effort"))
        thinking = dict(out.get("thinking_config") or {})
        thinking.setdefault("thinking_level", _GEMINI_EFFORT.get(effort.lower(), effort.upper()))
        out["thinking_config"] = thinking
    return out
