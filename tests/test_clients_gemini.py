"""`gemini` through the real google-genai SDK against a loopback generateContent server."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("google.genai", reason="needs the 'gemini' extra: pip install -e '.[gemini]'")

from fake_providers import (
    Reply,
    gemini_error,
    gemini_response,
    offline,
    serve,
)
from rlm.clients import get_client
from rlm.clients.retry import RetryPolicy
from rlm.errors import AuthenticationError, BadRequestError, RateLimitError


@pytest.fixture
def fake():
    yield from serve()


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    offline(monkeypatch)


def make(fake, **kwargs):
    kwargs.setdefault("model_name", "gemini-2.5-flash")
    kwargs.setdefault("api_key", "test-key")
    kwargs.setdefault("base_url", fake.url)
    kwargs.setdefault("retry", RetryPolicy(max_retries=2, initial_delay=0.01))
    return get_client("gemini", kwargs)


def test_generate_content_wire_format_usage_and_cost(fake):
    fake.enqueue(Reply(body=gemini_response("Bonjour", 1000, 100, thoughts_tokens=400)))
    client = make(fake)
    response = client.complete(
        [
            {"role": "system", "content": "Answer in French."},
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": "Salut"},
            {"role": "user", "content": "Again"},
        ],
        temperature=0.1,
        max_tokens=256,
        stop=["\n\n"],
        seed=3,
        reasoning_effort="low",
    )
    assert response.text == "Bonjour"
    # Thinking tokens are billed as output.
    assert (response.usage.input_tokens, response.usage.output_tokens) == (1000, 500)
    assert response.usage.cost == pytest.approx((1000 * 0.30 + 500 * 2.50) / 1e6)
    request = fake.requests[0]
    assert request.path.endswith("/models/gemini-2.5-flash:generateContent")
    assert request.headers["x-goog-api-key"] == "test-key"
    body = request.body
    assert body["systemInstruction"]["parts"] == [{"text": "Answer in French."}]
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
    config = body["generationConfig"]
    assert config["temperature"] == 0.1
    assert config["maxOutputTokens"] == 256
    assert config["stopSequences"] == ["\n\n"]
    assert config["seed"] == 3
    # The SDK passes nested config through with snake_case keys (the API accepts both).
    assert list(config["thinkingConfig"].values()) == ["LOW"]


def test_plain_prompt_has_no_system_instruction(fake):
    fake.enqueue(Reply(body=gemini_response("ok")))
    make(fake).complete("just this")
    body = fake.requests[0].body
    assert "systemInstruction" not in body
    assert body["contents"] == [{"role": "user", "parts": [{"text": "just this"}]}]


def test_503_then_success_and_429_exhaustion(fake):
    fake.enqueue(
        Reply(503, gemini_error(503, "The model is overloaded.", "UNAVAILABLE")),
        Reply(body=gemini_response("ok")),
    )
    assert make(fake).complete("x").text == "ok"
    assert len(fake.requests) == 2
    fake.default = lambda r: Reply(429, gemini_error(429, "Quota exceeded", "RESOURCE_EXHAUSTED"))
    with pytest.raises(RateLimitError, match="Quota exceeded"):
        make(fake).complete("x")
    assert len(fake.requests) == 2 + 3


def test_invalid_api_key_is_an_authentication_error(fake):
    # Gemini answers a bad key with 400 INVALID_ARGUMENT and reason API_KEY_INVALID.
    body = gemini_error(400, "API key not valid. Please pass a valid API key.", "INVALID_ARGUMENT")
    body["error"]["details"] = [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "API_KEY_INVALID",
            "domain": "googleapis.com",
        }
    ]
    fake.default = lambda r: Reply(400, body)
    with pytest.raises(AuthenticationError, match="GEMINI_API_KEY"):
        make(fake).complete("x")
    assert len(fake.requests) == 1


def test_other_400_is_a_bad_request(fake):
    fake.default = lambda r: Reply(
        400,
        gemini_error(400, "Invalid value at 'generation_config.temperature'", "INVALID_ARGUMENT"),
    )
    with pytest.raises(BadRequestError, match="temperature"):
        make(fake).complete("x", temperature=99)
    assert len(fake.requests) == 1


def test_async(fake):
    fake.enqueue(Reply(body=gemini_response("g1", 3, 1)), Reply(body=gemini_response("g2", 4, 1)))
    client = make(fake)

    async def run():
        return await asyncio.gather(client.acomplete("p"), client.acomplete("q"))

    assert sorted(r.text for r in asyncio.run(run())) == ["g1", "g2"]
    assert client.get_usage_summary().total_input_tokens == 7


def test_default_model_and_key_from_environment(fake, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", "env-key")
    fake.enqueue(Reply(body=gemini_response("ok")))
    client = get_client("gemini", {"base_url": fake.url})
    assert client.model_name == "gemini-2.5-flash"
    client.complete("x")
    assert fake.requests[0].headers["x-goog-api-key"] == "env-key"


def test_timeouts_sync_and_async_are_retried_then_reported(fake):
    from rlm.errors import ProviderError

    fake.default = lambda r: Reply(body=gemini_response("late"), delay=1.5)
    client = make(fake, timeout=0.3, retry=RetryPolicy(max_retries=1, initial_delay=0.01))
    with pytest.raises(ProviderError, match="timed out"):
        client.complete("x")
    with pytest.raises(ProviderError, match="timed out"):
        asyncio.run(client.acomplete("x"))
    assert len(fake.requests) == 4
