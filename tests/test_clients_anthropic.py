"""`anthropic` through the real SDK against a loopback Messages API server."""

from __future__ import annotations

import asyncio
import logging

import pytest

pytest.importorskip(
    "anthropic", reason="needs the 'anthropic' extra: pip install -e '.[anthropic]'"
)

from fake_providers import (
    Reply,
    anthropic_error,
    anthropic_message,
    offline,
    serve,
)
from rlm.clients import get_client
from rlm.clients.retry import RetryPolicy
from rlm.errors import AuthenticationError, BadRequestError


@pytest.fixture
def fake():
    yield from serve()


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    offline(monkeypatch)


def make(fake, **kwargs):
    kwargs.setdefault("model_name", "claude-haiku-4-5")
    kwargs.setdefault("api_key", "test-key")
    kwargs.setdefault("base_url", fake.url)
    kwargs.setdefault("retry", RetryPolicy(max_retries=2, initial_delay=0.01))
    return get_client("anthropic", kwargs)


def test_system_moves_to_the_system_parameter_and_max_tokens_is_defaulted(fake):
    fake.enqueue(Reply(body=anthropic_message("Hello!", input_tokens=2000, output_tokens=100)))
    client = make(fake)
    response = client.complete(
        [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": "Again"},
        ]
    )
    assert response.text == "Hello!"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (2000, 100)
    assert response.usage.cost == pytest.approx((2000 * 1.0 + 100 * 5.0) / 1e6)
    request = fake.requests[0]
    assert request.path == "/v1/messages"
    # Older SDKs send x-api-key, newer ones a bearer token.
    assert "test-key" in (
        request.headers.get("x-api-key"),
        request.headers.get("authorization", "")[7:],
    )
    assert "anthropic-version" in request.headers
    body = request.body
    assert body["system"] == "You are terse."
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["max_tokens"] == 8192
    assert body["model"] == "claude-haiku-4-5"


def test_sampling_translation(fake, caplog):
    fake.enqueue(Reply(body=anthropic_message("ok")))
    with caplog.at_level(logging.WARNING, logger="rlm.clients"):
        make(fake, max_tokens=1000).complete(
            "x", temperature=0.3, top_p=0.8, stop="END", seed=1, reasoning_effort="low"
        )
    body = fake.requests[0].body
    assert body["max_tokens"] == 1000
    assert body["temperature"] == 0.3
    assert body["top_p"] == 0.8
    assert body["stop_sequences"] == ["END"]
    assert body["output_config"] == {"effort": "low"}
    assert "seed" not in body
    assert "no `seed` parameter" in caplog.text  # dropped, but not silently


def test_max_tokens_sampling_arg_overrides_the_default(fake):
    fake.enqueue(Reply(body=anthropic_message("ok")))
    make(fake).complete("x", max_output_tokens=64)
    assert fake.requests[0].body["max_tokens"] == 64


def test_prompt_cache_tokens_are_counted_and_priced(fake):
    fake.enqueue(
        Reply(
            body=anthropic_message(
                "ok",
                input_tokens=100_000,
                output_tokens=0,
                cache_read_input_tokens=800_000,
                cache_creation_input_tokens=100_000,
            )
        )
    )
    response = make(fake).complete("x")
    assert response.usage.input_tokens == 1_000_000
    # claude-haiku-4-5: 100k plain at $1, 800k cache reads at $0.10, 100k writes at $1.25
    assert response.usage.cost == pytest.approx(0.1 + 0.08 + 0.125)


def test_overloaded_529_is_retried(fake):
    fake.enqueue(
        Reply(529, anthropic_error("overloaded_error", "Overloaded")),
        Reply(body=anthropic_message("ok")),
    )
    assert make(fake).complete("x").text == "ok"
    assert len(fake.requests) == 2


def test_auth_error_names_the_variable(fake):
    fake.default = lambda r: Reply(
        401, anthropic_error("authentication_error", "invalid x-api-key")
    )
    with pytest.raises(AuthenticationError, match="ANTHROPIC_API_KEY") as info:
        make(fake).complete("x")
    assert "invalid x-api-key" in str(info.value)
    assert len(fake.requests) == 1


def test_bad_request_fails_fast(fake):
    fake.default = lambda r: Reply(
        400, anthropic_error("invalid_request_error", "max_tokens: 999999 > 64000")
    )
    with pytest.raises(BadRequestError, match="max_tokens: 999999"):
        make(fake).complete("x", max_tokens=999999)
    assert len(fake.requests) == 1


def test_async(fake):
    fake.enqueue(
        Reply(body=anthropic_message("a1", 5, 1)), Reply(body=anthropic_message("a2", 6, 1))
    )
    client = make(fake)

    async def run():
        return await asyncio.gather(client.acomplete("p"), client.acomplete("q"))

    responses = asyncio.run(run())
    assert sorted(r.text for r in responses) == ["a1", "a2"]
    assert client.get_usage_summary().total_input_tokens == 11


def test_timeout_then_success(fake):
    fake.enqueue(
        Reply(body=anthropic_message("late"), delay=1.5), Reply(body=anthropic_message("ok"))
    )
    assert make(fake, timeout=0.3).complete("x").text == "ok"
    assert len(fake.requests) == 2
