"""Shared by the runtime-layer tests: the environments every test runs in, and a scripted
RLM whose sub-calls are answered by pattern rules (the `scripted` backend's rules)."""

from __future__ import annotations

from typing import Any

import pytest

from env_support import sandbox_skip_reason
from rlm import RLM

RUNTIME_ENVS = ["local", "sandbox"]


def env_param(name: str) -> str:
    if name == "sandbox" and (why := sandbox_skip_reason()) is not None:
        pytest.skip(f"sandbox environment unavailable: {why}")
    return name


def repl(code: str, after: str = "") -> str:
    return f"```repl\n{code}\n```\n{after}"


def scripted_rlm(
    environment: str,
    responses: list[str],
    rules: list[Any] | None = None,
    **kwargs: Any,
) -> RLM:
    """Root turns from `responses`; sub-calls whose prompt matches a rule get its reply."""
    return RLM(
        backend="scripted",
        backend_kwargs={"responses": responses, "rules": rules or [], "model_name": "root"},
        environment=environment,
        **kwargs,
    )
