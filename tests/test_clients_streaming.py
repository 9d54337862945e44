"""Streaming through each provider's real SDK against a loopback server speaking its SSE wire
format: pieces arrive in order, join to the answer, and usage is read from the stream."""

from __future__ import annotations

import pytest

from fake_providers import (
    Reply,
    anthropic_stream,
    gemini_stream,
    offline,
    openai_stream,
    serve,
)
from rlm.clients import get_client
from rlm.clients.retry import RetryPolicy

PIECES = ["Hel", "lo, ", "wor", "ld."]


@pytest.fixture
def fake():
    yield from serve()


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    offline(monkeypatch)


def _client(backend: str, fake, model: str):
    return get_client(
        backend,
        {
            "model_name": model,
            "api_key": "test-key",
            "base_url": fake.url + ("/v1" if backend == "openai" else ""),
            "retry": RetryPolicy(max_retries=1, initial_delay=0.01),
        },
    )


@pytest.mark.parametrize(
    ("backend", "model", "events", "path"),
    [
        ("openai", "gpt-4o-mini", openai_stream, "/v1/chat/completions"),
        ("anthropic", "claude-haiku-4-5", anthropic_stream, "/v1/messages"),
        ("gemini", "gemini-2.5-flash", gemini_stream, ":streamGenerateContent"),
    ],
)
def test_pieces_stream_in_order_with_usage(fake, backend, model, events, path):
    pytest.importorskip({"openai": "openai", "anthropic": "anthropic"}.get(backend, "google.genai"))
    fake.enqueue(Reply(sse=events(PIECES)))
    client = _client(backend, fake, model)
    seen: list[str] = []
    try:
        response = client.stream_complete("Say hello", seen.append)
    finally:
        client.close()
    assert client.streams
    assert seen == PIECES
    assert response.text == "Hello, world."
    assert (response.usage.input_tokens, response.usage.output_tokens) == (10, 5)
    assert path in fake.requests[0].path
    body = fake.requests[0].body
    if backend != "gemini":
        assert body["stream"] is True


def test_a_client_without_streaming_delivers_one_piece():
    from rlm.clients.offline import ScriptedLM

    scripted = ScriptedLM(["all at once"])
    seen: list[str] = []
    assert scripted.stream_complete("hi", seen.append).text == "all at once"
    assert seen == ["all at once"] and not scripted.streams


def test_an_agent_streams_the_answer_as_the_provider_sends_it(fake, tmp_path):
    """End to end: OpenAI SDK -> root client stream -> the agent's FINAL(...) detection."""
    pytest.importorskip("openai")
    import asyncio

    from rlm import create_enforced_agent

    fake.enqueue(Reply(sse=openai_stream(["Sure.\nFI", 'NAL("Hel', "lo, wor", 'ld.")'])))
    agent = create_enforced_agent(
        backend="openai",
        backend_kwargs={"model_name": "gpt-4o-mini", "api_key": "k", "base_url": fake.url + "/v1"},
        environment="local",
        store=str(tmp_path / "s.db"),
        log_dir=str(tmp_path / "logs"),
    )

    async def chat() -> list:
        return [chunk async for chunk in agent.chat("greet me", stream=True)]

    try:
        chunks = asyncio.run(chat())
        assert agent.store.turns(agent.session)[0].answer == "Hello, world."
    finally:
        agent.close()
    assert [c for c in chunks if c.kind == "answer"] == ["Hel", "lo, wor", "ld."]
    assert fake.requests[0].body["stream"] is True
