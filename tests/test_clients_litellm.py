"""`litellm` through the real LiteLLM SDK against a loopback OpenAI-compatible server."""

from __future__ import annotations

import asyncio
import os

import pytest

# LiteLLM fetches its price map from GitHub at import unless told not to; tests stay offline.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
pytest.importorskip("litellm", reason="needs the 'litellm' extra: pip install -e '.[litellm]'")

from fake_providers import (
    Reply,
    offline,
    openai_completion,
    openai_error,
    serve,
)
from rlm.clients import get_client
from rlm.clients.retry import RetryPolicy
from rlm.errors import AuthenticationError


@pytest.fixture
def fake():
    yield from serve()


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    offline(monkeypatch)


def make(fake, **kwargs):
    return get_client(
        "litellm",
        {
            "model_name": "openai/gpt-4o-mini",
            "api_key": "test-key",
            "base_url": fake.url + "/v1",
            "retry": RetryPolicy(max_retries=2, initial_delay=0.01),
            **kwargs,
        },
    )


def test_completion_usage_and_cost(fake):
    fake.enqueue(Reply(body=openai_completion("via litellm", 1000, 200)))
    response = make(fake).complete("x", max_tokens=30, temperature=0)
    assert response.text == "via litellm"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (1000, 200)
    # LiteLLM's price map or ours: both list gpt-4o-mini at $0.15 / $0.60.
    assert response.usage.cost == pytest.approx((1000 * 0.15 + 200 * 0.60) / 1e6)
    request = fake.requests[0]
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer test-key"
    assert request.body["model"] == "gpt-4o-mini"
    assert request.body["max_tokens"] == 30


def test_user_prices_win_over_litellms_map(fake):
    fake.enqueue(Reply(body=openai_completion("x", 1_000_000, 0)))
    response = make(fake, prices={"openai/gpt-4o-mini": (9.0, 9.0)}).complete("x")
    assert response.usage.cost == pytest.approx(9.0)


def test_retry_then_success_and_auth_error(fake):
    fake.enqueue(Reply(503, openai_error(503, "busy")), Reply(body=openai_completion("ok")))
    assert make(fake).complete("x").text == "ok"
    assert len(fake.requests) == 2  # LiteLLM's own retries are off
    fake.default = lambda r: Reply(401, openai_error(401, "Incorrect API key provided"))
    with pytest.raises(AuthenticationError, match="OPENAI_API_KEY"):
        make(fake).complete("x")
    assert len(fake.requests) == 3


def test_async(fake):
    fake.enqueue(Reply(body=openai_completion("a", 3, 1)))
    assert asyncio.run(make(fake).acomplete("x")).text == "a"
