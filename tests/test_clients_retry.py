"""Retries, timeouts and fail-fast errors, through the real SDKs against loopback servers."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

pytest.importorskip("openai", reason="needs the 'openai' extra: pip install -e '.[openai]'")

from fake_providers import (
    FakeProvider,
    Reply,
    offline,
    openai_completion,
    openai_error,
    serve,
)
from rlm.clients import get_client
from rlm.clients.errors_map import parse_retry_after
from rlm.clients.retry import RetryPolicy
from rlm.errors import (
    AuthenticationError,
    BadRequestError,
    ProviderError,
    RateLimitError,
)

# Backoff short enough to keep the suite fast, long enough to be measured.
FAST = RetryPolicy(max_retries=3, initial_delay=0.01, max_delay=0.05)


@pytest.fixture
def fake():
    yield from serve()


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    offline(monkeypatch)


def make(fake: FakeProvider, **kwargs):
    kwargs.setdefault("model_name", "gpt-4o-mini")
    kwargs.setdefault("api_key", "test-key")
    kwargs.setdefault("base_url", fake.url + "/v1")
    kwargs.setdefault("retry", FAST)
    return get_client("openai", kwargs)


def test_429_then_success_honours_retry_after(fake):
    fake.enqueue(
        Reply(429, openai_error(429, "slow down", "rate_limit_error"), {"retry-after": "0.3"}),
        Reply(body=openai_completion("done", 7, 3)),
    )
    client = make(fake)
    started = time.monotonic()
    response = client.complete("x")
    elapsed = time.monotonic() - started
    assert response.text == "done"
    assert len(fake.requests) == 2
    assert elapsed >= 0.3  # waited as told, not the 10 ms backoff
    assert elapsed < 2.0
    # Only the successful attempt is counted as usage.
    summary = client.get_usage_summary()
    assert (summary.total_calls, summary.total_input_tokens) == (1, 7)


def test_retry_after_ms_header_is_honoured(fake):
    fake.enqueue(
        Reply(429, openai_error(429, "slow down"), {"retry-after-ms": "250"}),
        Reply(body=openai_completion("done")),
    )
    started = time.monotonic()
    assert make(fake).complete("x").text == "done"
    assert time.monotonic() - started >= 0.25


def test_500_then_success(fake):
    fake.enqueue(
        Reply(500, openai_error(500, "internal", "server_error")),
        Reply(503, openai_error(503, "unavailable", "server_error")),
        Reply(body=openai_completion("ok")),
    )
    assert make(fake).complete("x").text == "ok"
    assert len(fake.requests) == 3


def test_async_retries_too(fake):
    fake.enqueue(
        Reply(502, {"error": {"message": "bad gateway"}}), Reply(body=openai_completion("ok"))
    )
    assert asyncio.run(make(fake).acomplete("x")).text == "ok"
    assert len(fake.requests) == 2


def test_persistent_429_raises_rate_limit_error_after_every_retry(fake):
    fake.default = lambda r: Reply(429, openai_error(429, "quota", "rate_limit_error"))
    with pytest.raises(RateLimitError, match="Gave up after 4 attempt") as info:
        make(fake).complete("x")
    assert info.value.status == 429
    assert len(fake.requests) == 4  # 1 + max_retries


def test_retry_after_longer_than_the_cap_fails_at_once(fake):
    fake.default = lambda r: Reply(429, openai_error(429, "quota"), {"retry-after": "3600"})
    policy = RetryPolicy(max_retries=3, initial_delay=0.01, max_retry_after=5)
    started = time.monotonic()
    with pytest.raises(RateLimitError, match="max_retry_after"):
        make(fake, retry=policy).complete("x")
    assert time.monotonic() - started < 1.0
    assert len(fake.requests) == 1


def test_timeout_is_retried_then_reported(fake):
    fake.default = lambda r: Reply(body=openai_completion("late"), delay=1.0)
    started = time.monotonic()
    with pytest.raises(ProviderError, match=r"timed out after 0.2s.*Raise `timeout`"):
        make(fake, timeout=0.2, retry=RetryPolicy(max_retries=1, initial_delay=0.01)).complete("x")
    assert len(fake.requests) == 2
    assert time.monotonic() - started < 1.5


def test_timeout_then_success(fake):
    fake.enqueue(
        Reply(body=openai_completion("late"), delay=1.0), Reply(body=openai_completion("ok"))
    )
    assert make(fake, timeout=0.3).complete("x").text == "ok"


def test_401_fails_fast_and_names_the_variable(fake):
    fake.default = lambda r: Reply(401, openai_error(401, "Incorrect API key provided"))
    with pytest.raises(AuthenticationError) as info:
        make(fake).complete("x")
    message = str(info.value)
    assert "OPENAI_API_KEY" in message
    assert "Incorrect API key provided" in message
    assert info.value.status == 401
    assert len(fake.requests) == 1


def test_openrouter_401_names_its_own_variable(fake):
    fake.default = lambda r: Reply(
        401, {"error": {"message": "No auth credentials found", "code": 401}}
    )
    client = get_client(
        "openrouter",
        {"model_name": "openai/gpt-4o", "api_key": "bad", "base_url": fake.url + "/v1"},
    )
    with pytest.raises(AuthenticationError, match="OPENROUTER_API_KEY"):
        client.complete("x")


def test_400_and_404_fail_fast(fake):
    fake.enqueue(Reply(400, openai_error(400, "Unsupported parameter: 'seed'")))
    with pytest.raises(BadRequestError, match="Unsupported parameter") as info:
        make(fake).complete("x")
    assert info.value.status == 400
    fake.enqueue(Reply(404, openai_error(404, "The model `gpt-9` does not exist")))
    with pytest.raises(BadRequestError, match="model_name='gpt-9'"):
        make(fake, model_name="gpt-9").complete("x")
    assert len(fake.requests) == 2


def test_connection_refused_is_retried_then_reported():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on `port` now.
    client = get_client(
        "openai",
        {
            "model_name": "gpt-4o-mini",
            "api_key": "k",
            "base_url": f"http://127.0.0.1:{port}/v1",
            "retry": RetryPolicy(max_retries=1, initial_delay=0.01),
        },
    )
    with pytest.raises(ProviderError, match="could not reach"):
        client.complete("x")


def test_bugs_are_not_mapped_or_retried(fake):
    client = make(fake)
    with pytest.raises(TypeError):
        client.complete(12345)  # not a prompt: our own TypeError, not a provider failure
    assert fake.requests == []


def test_parse_retry_after_forms():
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": "not a date"}) is None
    http_date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 <= parse_retry_after({"retry-after": http_date}) <= 31


def test_backoff_grows_with_jitter_and_is_capped():
    policy = RetryPolicy(initial_delay=1.0, multiplier=2.0, max_delay=5.0, jitter=0.5)
    for index, ceiling in enumerate([1.0, 2.0, 4.0, 5.0, 5.0]):
        delays = {policy.backoff(index) for _ in range(50)}
        assert all(ceiling * 0.5 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered
