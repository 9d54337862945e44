"""The test guard: real provider requests fail loudly; loopback fakes and cache hits pass."""

from __future__ import annotations

import time

import pytest

from fake_providers import (
    Reply,
    offline,
    openai_completion,
    serve,
)
from rlm.clients import guard
from rlm.errors import RealModelCallBlockedError


@pytest.fixture
def fake():
    yield from serve()


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    offline(monkeypatch)


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8000/v1", True),
        ("http://127.5.6.7/v1", True),
        ("http://localhost:11434/v1", True),
        ("http://[::1]:8080", True),
        ("https://api.openai.com/v1", False),
        ("http://10.0.0.5:8000/v1", False),
        ("http://localhost.evil.com/v1", False),
        (None, False),
    ],
)
def test_loopback_detection(url, loopback):
    assert guard.is_loopback(url) is loopback


def test_guard_is_on_in_this_suite():
    assert guard.real_requests_blocked()


def test_off_unless_the_variable_is_set(monkeypatch):
    monkeypatch.delenv(guard.ENV_VAR)
    assert not guard.real_requests_blocked()
    monkeypatch.setenv(guard.ENV_VAR, "0")
    assert not guard.real_requests_blocked()


@pytest.mark.parametrize(
    ("backend", "kwargs", "module"),
    [
        ("openai", {"model_name": "gpt-4o-mini"}, "openai"),
        ("openrouter", {"model_name": "openai/gpt-4o"}, "openai"),
        ("vllm", {"model_name": "m", "base_url": "http://10.255.255.1:8000/v1"}, "openai"),
        (
            "azure_openai",
            {"model_name": "d", "azure_endpoint": "https://x.openai.azure.com"},
            "openai",
        ),
        ("anthropic", {"model_name": "claude-haiku-4-5"}, "anthropic"),
        ("gemini", {"model_name": "gemini-2.5-flash"}, "google.genai"),
        ("portkey", {"model_name": "gpt-4o"}, "portkey_ai"),
        ("litellm", {"model_name": "openai/gpt-4o-mini"}, "litellm"),
    ],
)
def test_real_endpoints_are_blocked_before_any_network(backend, kwargs, module):
    pytest.importorskip(module, reason=f"needs the extra providing {module}")
    from rlm.clients import get_client

    client = get_client(backend, {"api_key": "k", **kwargs})
    started = time.monotonic()
    with pytest.raises(RealModelCallBlockedError, match="RLM_BLOCK_REAL_REQUESTS"):
        client.complete("hello")
    # Raised at once: no connection attempt to an unroutable address was made.
    assert time.monotonic() - started < 0.5
    assert client.get_usage_summary().total_calls == 0


def test_allow_real_requests_lifts_the_guard_everywhere(fake):
    pytest.importorskip("openai")
    assert guard.real_requests_blocked()
    with guard.allow_real_requests():
        assert not guard.real_requests_blocked()
        guard.check_request("openai", "gpt-4o", "https://api.openai.com/v1")  # no raise
    assert guard.real_requests_blocked()


def test_loopback_fakes_and_cache_hits_are_allowed(fake, tmp_path):
    pytest.importorskip("openai")
    from rlm.clients import get_client

    fake.enqueue(Reply(body=openai_completion("local")))
    kwargs = {"model_name": "gpt-4o-mini", "api_key": "k", "cache": str(tmp_path / "c.db")}
    local = get_client("openai", {**kwargs, "base_url": fake.url + "/v1"})
    assert local.complete("q").text == "local"
    # The same cache behind a real endpoint: a hit needs no request, so it is allowed...
    remote = get_client("openai", kwargs)
    assert remote.complete("q").usage.cached is True
    # ...and a miss is blocked.
    with pytest.raises(RealModelCallBlockedError):
        remote.complete("another question")
