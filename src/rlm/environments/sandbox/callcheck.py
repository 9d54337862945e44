"""Host-side shape checks for a worker's callback requests, before the broker sees them.

The wire already bounded the frame (size, number of values) before decoding; this checks the
decoded request is one the broker can serve without surprises: the documented argument
names, a prompt that is text or chat messages, a batch of bounded length, a model name that
is a short string, tool arguments nested no deeper than `MAX_DEPTH`. A request that fails
gets an error back in model code; nothing reaches a model client.
"""

from __future__ import annotations

from typing import Any

MAX_BATCH = 10_000  # prompts in one llm_query_batched / rlm_query_batched
MAX_MESSAGES = 10_000  # chat messages in one prompt
MAX_DEPTH = 64  # nesting of tool arguments (and of anything else in a request)
MAX_NAME = 256  # model and tool names

_ARGS = {
    "llm_query": {"prompt", "model"},
    "rlm_query": {"prompt", "model"},
    "llm_query_batched": {"prompts", "model"},
    "rlm_query_batched": {"prompts", "model"},
    "tool": {"name", "args", "kwargs"},
    "proxy": {"handle", "method", "args", "kwargs"},  # a method of a proxied host object
}


class BadRequest(ValueError):
    """A callback request the host will not serve; the message goes back to model code."""


def check_request(name: str, payload: dict[str, Any]) -> None:
    allowed = _ARGS.get(name)
    if allowed is None:
        raise BadRequest(f"unknown host call {name!r}")
    extra = set(payload) - allowed
    if extra:
        raise BadRequest(f"{name}: unexpected arguments {sorted(map(str, extra))[:5]}")
    _check_depth(payload, name)
    if name == "proxy":
        if not isinstance(payload.get("handle"), int) or isinstance(payload["handle"], bool):
            raise BadRequest("proxy: handle must be an int")
        _short_name(payload.get("method"), "method name", required=True)
    if name in ("tool", "proxy"):
        if name == "tool":
            _short_name(payload.get("name"), "tool name", required=True)
        if not isinstance(payload.get("args", []), list):
            raise BadRequest(f"{name}: args must be a list")
        if not isinstance(payload.get("kwargs", {}), dict):
            raise BadRequest(f"{name}: kwargs must be a dict")
        return
    _short_name(payload.get("model"), "model", required=False)
    if name.endswith("_batched"):
        prompts = payload.get("prompts")
        if not isinstance(prompts, list):
            raise BadRequest(f"{name}: prompts must be a list, not {type(prompts).__name__}")
        if len(prompts) > MAX_BATCH:
            raise BadRequest(
                f"{name}: {len(prompts):,} prompts in one batch (limit {MAX_BATCH:,}); "
                "split it into several batches"
            )
        for prompt in prompts:
            _check_prompt(prompt, name)
    else:
        _check_prompt(payload.get("prompt"), name)


def _short_name(value: Any, what: str, *, required: bool) -> None:
    if value is None and not required:
        return
    if not isinstance(value, str) or not 0 < len(value) <= MAX_NAME:
        raise BadRequest(f"{what} must be a string of at most {MAX_NAME} characters")


def _check_prompt(prompt: Any, name: str) -> None:
    """Text, one chat message, or a list of chat messages whose values are text."""
    if isinstance(prompt, str):
        return
    messages = [prompt] if isinstance(prompt, dict) else prompt
    if not isinstance(messages, list) or len(messages) > MAX_MESSAGES:
        raise BadRequest(
            f"{name}: a prompt is a string or a list of at most {MAX_MESSAGES:,} chat "
            f"messages, not {type(prompt).__name__}"
        )
    for message in messages:
        if not isinstance(message, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in message.items()
        ):
            raise BadRequest(
                f"{name}: each chat message must be a dict of strings, e.g. "
                '{"role": "user", "content": "..."}'
            )


def _check_depth(value: Any, name: str) -> None:
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise BadRequest(f"{name}: arguments nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
