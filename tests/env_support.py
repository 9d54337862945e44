"""Shared helpers for environment tests: a host that plays the broker, and env factories.

The host answers the broker's allow-listed calls deterministically (it plays the part of
the engine's Broker: `llm_query` echoes, tools dispatch to real callables).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import threading
import time
from typing import Any

import pytest

from rlm.environments import ToolSpec, get_environment


class EchoHost:
    """Answers llm_query with "echo:<prompt>", batches item by item; records every call."""

    def __init__(self, tools: list[ToolSpec] | None = None, delay: float = 0.0):
        self.tools = {t.name: t.value for t in tools or [] if t.is_callable}
        self.delay = delay
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0

    def call(self, name: str, payload: dict[str, Any]) -> Any:
        with self.lock:
            self.calls.append((name, payload))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                time.sleep(self.delay)
            if name in ("llm_query", "rlm_query"):
                return f"echo:{payload['prompt']}"
            if name in ("llm_query_batched", "rlm_query_batched"):
                return [f"echo:{p}" for p in payload["prompts"]]
            if name == "tool":
                return self.tools[payload["name"]](*payload["args"], **payload["kwargs"])
            raise ValueError(f"unknown call {name}")
        finally:
            with self.lock:
                self.in_flight -= 1


@functools.cache
def docker_skip_reason() -> str | None:
    from rlm.environments.docker import docker_available

    return docker_available()


@functools.cache
def sandbox_skip_reason() -> str | None:
    """None when this kernel can run the full sandbox lockdown, else why not (tests skip:
    e.g. CI inside a container whose seccomp profile hides Landlock)."""
    from rlm.errors import REPLEnvironmentError, SandboxUnavailableError

    try:
        get_environment("sandbox", host=EchoHost()).close()
    except SandboxUnavailableError as exc:
        return f"this kernel cannot lock the sandbox down: {exc}"
    except REPLEnvironmentError as exc:  # e.g. bwrap present but not allowed namespaces here
        return f"the sandbox worker cannot start here: {exc}"
    return None


def sandbox_required() -> bool:
    """CI sets RLM_REQUIRE_SANDBOX=1: there a sandbox that cannot start is a failure, never a
    skip (a machine without Landlock must not show a green security suite)."""
    return os.environ.get("RLM_REQUIRE_SANDBOX") == "1"


def require_sandbox() -> None:
    """Skip the calling test when the sandbox cannot run here; fail it when it is required."""
    if (why := sandbox_skip_reason()) is not None:
        if sandbox_required():
            pytest.fail(f"RLM_REQUIRE_SANDBOX=1 but the sandbox cannot start: {why}")
        pytest.skip(f"sandbox environment unavailable: {why}")


def ipython_skip_reason() -> str | None:
    if (why := sandbox_skip_reason()) is not None:
        return why
    if importlib.util.find_spec("IPython") is None:
        return "IPython is not installed (pip install 'rlm[ipython]')"
    return None


ALL_ENVS = ["local", "sandbox", "docker", "ipython"]


def make_env(name: str, tools: list[ToolSpec] | None = None, host: Any = None, **kwargs: Any):
    """Build `name`, skipping the test (with the reason) when it cannot run here."""
    reason = {
        "docker": docker_skip_reason,
        "ipython": ipython_skip_reason,
        "sandbox": sandbox_skip_reason,
    }.get(name)
    if reason is not None and (why := reason()) is not None:
        if name in ("sandbox", "ipython") and sandbox_required() and why == sandbox_skip_reason():
            pytest.fail(f"RLM_REQUIRE_SANDBOX=1 but the sandbox cannot start: {why}")
        pytest.skip(f"{name} environment unavailable: {why}")
    host = host if host is not None else EchoHost(tools)
    return get_environment(name, host=host, tools=tools or [], **kwargs)
