"""`portkey` through the real portkey-ai SDK against a loopback OpenAI-shaped gateway."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("portkey_ai", reason="needs the 'portkey' extra: pip install -e '.[portkey]'")

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
        "portkey",
        {
            "model_name": "gpt-4o-mini",
            "api_key": "pk-test",
            "base_url": fake.url + "/v1",
            "virtual_key": "vk-openai",
            "retry": RetryPolicy(max_retries=2, initial_delay=0.01),
            **kwargs,
        },
    )


def test_gateway_request_usage_and_cost(fake):
    fake.enqueue(Reply(body=openai_completion("via portkey", 100, 20)))
    response = make(fake).complete("x", max_tokens=30, temperature=0)
    assert response.text == "via portkey"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (100, 20)
    assert response.usage.cost == pytest.approx((100 * 0.15 + 20 * 0.60) / 1e6)
    request = fake.requests[0]
    assert request.path == "/v1/chat/completions"
    assert request.headers["x-portkey-api-key"] == "pk-test"
    assert request.headers["x-portkey-virtual-key"] == "vk-openai"
    assert request.body["max_tokens"] == 30


def test_retry_is_ours_alone_and_auth_names_the_variable(fake):
    fake.enqueue(Reply(500, openai_error(500, "boom")), Reply(body=openai_completion("ok")))
    assert make(fake).complete("x").text == "ok"
    assert len(fake.requests) == 2  # not 3: the SDK's own retry is off
    fake.default = lambda r: Reply(401, openai_error(401, "Invalid API Key"))
    with pytest.raises(AuthenticationError, match="PORTKEY_API_KEY"):
        make(fake).complete("x")
    assert len(fake.requests) == 3


def test_async(fake):
    fake.enqueue(Reply(body=openai_completion("a", 3, 1)))
    assert asyncio.run(make(fake).acomplete("x")).text == "a"
