"""Shared helpers for environment tests: a host that plays the broker, and env factories.

The host answers the broker's allow-listed calls deterministically (it plays the part of
the engine's Broker: `llm_query` echoes, tools dispatch to real callables).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
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

    if (why := docker_available()) is not None:
        return why
    if docker_test_image() is None:
        return "could not build a local python3 image (docker import failed)"
    return None


@functools.cache
def docker_test_image() -> str | None:
    """No registry is reachable: the tests' image is imported from this machine's python3."""
    from docker_image import ensure_image

    return ensure_image()


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


@functools.cache
def remote_fake(name: str) -> Any:
    """The loopback provider a remote environment's SDK talks to (one per test session), or
    the reason there is none."""
    import fake_sandboxes

    return fake_sandboxes.start(name)


def remote_kwargs(name: str) -> dict[str, Any]:
    fake = remote_fake(name)
    if isinstance(fake, str):
        pytest.skip(f"{name} environment: {fake}")
    # The fake provider runs commands on this machine: the worker uses this interpreter.
    return {**fake.env_kwargs(), "python": sys.executable}


REMOTE_ENVS = ["e2b", "modal", "daytona", "prime"]


def monty_skip_reason() -> str | None:
    if importlib.util.find_spec("pydantic_monty") is None:
        return "pydantic-monty is not installed (pip install 'rlm[monty]')"
    return None


ALL_ENVS = ["local", "sandbox", "docker", "ipython", "monty", *REMOTE_ENVS]


def make_env(name: str, tools: list[ToolSpec] | None = None, host: Any = None, **kwargs: Any):
    """Build `name`, skipping the test (with the reason) when it cannot run here."""
    reason = {
        "docker": docker_skip_reason,
        "ipython": ipython_skip_reason,
        "sandbox": sandbox_skip_reason,
        "monty": monty_skip_reason,
    }.get(name)
    if reason is not None and (why := reason()) is not None:
        if name in ("sandbox", "ipython") and sandbox_required() and why == sandbox_skip_reason():
            pytest.fail(f"RLM_REQUIRE_SANDBOX=1 but the sandbox cannot start: {why}")
        pytest.skip(f"{name} environment unavailable: {why}")
    if name in REMOTE_ENVS:
        kwargs = {**remote_kwargs(name), **kwargs}
    if name == "docker":
        kwargs.setdefault("image", docker_test_image())
    host = host if host is not None else EchoHost(tools)
    return get_environment(name, host=host, tools=tools or [], **kwargs)


# The environments the engine-level tests run on: in-process and the sandbox (when the kernel
# can lock it down).
ENGINE_ENVS = [
    "local",
    pytest.param(
        "sandbox",
        marks=pytest.mark.skipif(
            sandbox_skip_reason() is not None, reason=str(sandbox_skip_reason())
        ),
    ),
]
