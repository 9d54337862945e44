"""Shared fixtures. Models are played by the `function`/`scripted` backends (no network)."""

from __future__ import annotations

import os

# Set before any test module imports a provider SDK: a real (non-loopback) model request in a
# test fails loudly instead of spending money (see rlm.clients.guard).
os.environ.setdefault("RLM_BLOCK_REAL_REQUESTS", "1")

from collections.abc import Callable
from typing import Any

import pytest

from rlm import RLM


def repl(code: str, before: str = "") -> str:
    """A model response holding one ```repl block."""
    return f"{before}\n```repl\n{code}\n```\n"


def last_user(messages: list[dict[str, Any]]) -> str:
    return next(m["content"] for m in reversed(messages) if m["role"] == "user")


def recording_rlm(replies: list[str], env: str = "local", **rlm_kwargs) -> tuple[RLM, list[str]]:
    """An RLM whose 8k-window model (small enough for the first look) plays `replies` in
    order; `seen` gets each turn's last message."""
    seen: list[str] = []
    script = iter(replies)

    def model(messages):
        seen.append(messages[-1]["content"])
        return next(script)

    rlm = RLM(
        backend="function",
        backend_kwargs={"function": model, "context_window": 8_192},
        environment=env,
        **rlm_kwargs,
    )
    return rlm, seen


@pytest.fixture
def make_rlm() -> Callable[..., RLM]:
    """Build an RLM whose root model is scripted and whose sub-model is a function."""

    def build(
        responses: list[str] | Callable[..., str],
        sub: Callable[[list[dict[str, Any]]], str] | None = None,
        **kwargs: Any,
    ) -> RLM:
        if callable(responses):
            backend, backend_kwargs = "function", {"function": responses, "model_name": "root"}
        else:
            backend, backend_kwargs = "scripted", {"responses": responses, "model_name": "root"}
        kwargs.setdefault("environment", "local")
        if sub is not None:
            kwargs.setdefault("other_backends", ["function"])
            kwargs.setdefault("other_backend_kwargs", [{"function": sub, "model_name": "sub"}])
        return RLM(backend=backend, backend_kwargs=backend_kwargs, **kwargs)

    return build
