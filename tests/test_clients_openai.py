"""The OpenAI family through the real `openai` SDK against a loopback Chat Completions server."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("openai", reason="needs the 'openai' extra: pip install -e '.[openai]'")

from fake_providers import (
    FakeProvider,
    Reply,
    offline,
    openai_completion,
    openai_stream,
    serve,
)
from rlm.clients import get_client


@pytest.fixture
def fake():
    yield from serve()


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    offline(monkeypatch)


def make(fake: FakeProvider, backend: str = "openai", **kwargs):
    kwargs.setdefault("model_name", "gpt-4o-mini")
    kwargs.setdefault("api_key", "test-key")
    kwargs.setdefault("base_url", fake.url + "/v1")
    return get_client(backend, kwargs)


def test_completion_returns_text_exact_usage_and_table_cost(fake):
    fake.enqueue(Reply(body=openai_completion("Paris", prompt_tokens=1000, completion_tokens=200)))
    client = make(fake)
    response = client.complete("Capital of France?", temperature=0.0, max_tokens=50, seed=7)

    assert response.text == "Paris"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (1000, 200)
    # gpt-4o-mini: $0.15 / $0.60 per million tokens
    assert response.usage.cost == pytest.approx((1000 * 0.15 + 200 * 0.60) / 1e6)
    request = fake.requests[0]
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer test-key"
    assert request.body["model"] == "gpt-4o-mini"
    assert request.body["messages"] == [{"role": "user", "content": "Capital of France?"}]
    assert request.body["temperature"] == 0.0
    assert request.body["seed"] == 7
    # OpenAI itself wants max_completion_tokens (reasoning models reject max_tokens).
    assert request.body["max_completion_tokens"] == 50
    assert "max_tokens" not in request.body
    summary = client.get_usage_summary().model_usage_summaries["gpt-4o-mini"]
    assert (summary.total_calls, summary.total_input_tokens, summary.total_output_tokens) == (
        1,
        1000,
        200,
    )


def test_sampling_args_from_constructor_and_call_merge(fake):
    fake.enqueue(Reply(body=openai_completion("ok")))
    client = make(fake, sampling_args={"temperature": 0.2, "top_p": 0.9, "reasoning_effort": "low"})
    client.complete(
        [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
        temperature=0.7,
        stop=["\n"],
    )
    body = fake.requests[0].body
    assert body["temperature"] == 0.7  # the call's own value wins
    assert body["top_p"] == 0.9
    assert body["reasoning_effort"] == "low"
    assert body["stop"] == ["\n"]
    assert body["messages"][0] == {"role": "system", "content": "be brief"}


def test_streaming_joins_deltas_and_reads_usage_from_the_final_chunk(fake):
    fake.enqueue(Reply(sse=openai_stream(["The ", "answer ", "is 42."], 30, 6)))
    client = make(fake, stream=True)
    response = client.complete("question")
    assert response.text == "The answer is 42."
    assert (response.usage.input_tokens, response.usage.output_tokens) == (30, 6)
    assert response.usage.cost == pytest.approx((30 * 0.15 + 6 * 0.60) / 1e6)
    body = fake.requests[0].body
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


def test_async_streaming_and_plain(fake):
    fake.enqueue(
        Reply(sse=openai_stream(["a", "b"], 3, 2)), Reply(body=openai_completion("c", 4, 1))
    )
    streaming = make(fake, stream=True)
    plain = make(fake)

    async def run():
        first = await streaming.acomplete("x")
        second = await plain.acomplete("y")
        return first, second

    first, second = asyncio.run(run())
    assert (first.text, first.usage.input_tokens, first.usage.output_tokens) == ("ab", 3, 2)
    assert (second.text, second.usage.input_tokens) == ("c", 4)
    # A second event loop gets its own async HTTP pool (no "event loop is closed").
    fake.enqueue(Reply(body=openai_completion("d", 1, 1)))
    assert asyncio.run(plain.acomplete("z")).text == "d"


def test_unknown_model_has_no_cost_never_a_guess(fake):
    fake.enqueue(Reply(body=openai_completion("hi", model="my-finetune")))
    response = make(fake, model_name="my-finetune").complete("x")
    assert response.usage.cost is None
    assert response.usage.input_tokens == 10


def test_user_price_override_applies(fake):
    fake.enqueue(Reply(body=openai_completion("hi", 1_000_000, 1_000_000, model="my-finetune")))
    response = make(fake, model_name="my-finetune", prices={"my-finetune": (1.0, 3.0)}).complete(
        "x"
    )
    assert response.usage.cost == pytest.approx(4.0)


def test_prompt_cache_tokens_priced_at_the_cached_rate(fake):
    body = openai_completion("hi", 1_000_000, 0, model="gpt-4o")
    body["usage"]["prompt_tokens_details"] = {"cached_tokens": 400_000}
    fake.enqueue(Reply(body=body))
    response = make(fake, model_name="gpt-4o").complete("x")
    # 600k at $2.50 + 400k at $1.25
    assert response.usage.cost == pytest.approx(0.6 * 2.50 + 0.4 * 1.25)


def test_openrouter_reports_cost_itself(fake):
    fake.enqueue(Reply(body=openai_completion("hi", 100, 10, model="openai/gpt-4o", cost=0.00123)))
    client = make(fake, "openrouter", model_name="openai/gpt-4o")
    response = client.complete("x", reasoning_effort="high", max_tokens=20)
    assert response.usage.cost == pytest.approx(0.00123)
    body = fake.requests[0].body
    assert body["usage"] == {"include": True}  # asks OpenRouter for the exact cost
    assert body["reasoning"] == {"effort": "high"}
    assert body["max_tokens"] == 20


@pytest.mark.parametrize(
    ("backend", "default_url"),
    [
        ("vllm", "http://localhost:8000/v1/"),
        ("ollama", "http://localhost:11434/v1/"),
        ("lmstudio", "http://localhost:1234/v1/"),
        ("llamacpp", "http://localhost:8080/v1/"),
        ("openrouter", "https://openrouter.ai/api/v1/"),
        ("vercel", "https://ai-gateway.vercel.sh/v1/"),
    ],
)
def test_compatible_family_defaults(backend, default_url):
    client = get_client(backend, {"model_name": "m", "api_key": "k"})
    assert client.describe()["base_url"] == default_url


@pytest.mark.parametrize("backend", ["vllm", "ollama", "lmstudio", "llamacpp"])
def test_local_servers_need_no_key_and_get_max_tokens(fake, backend):
    fake.enqueue(Reply(body=openai_completion("hi", model="qwen")))
    client = get_client(backend, {"model_name": "qwen", "base_url": fake.url + "/v1"})
    response = client.complete("x", max_tokens=16)
    assert response.text == "hi"
    assert fake.requests[0].body["max_tokens"] == 16
    assert "max_completion_tokens" not in fake.requests[0].body


def test_vllm_base_url_from_environment(fake, monkeypatch):
    monkeypatch.setenv("VLLM_BASE_URL", fake.url + "/v1")
    fake.enqueue(Reply(body=openai_completion("from env")))
    assert get_client("vllm", {"model_name": "m"}).complete("x").text == "from env"


def test_openai_without_key_names_the_variable():
    from rlm.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        get_client("openai", {"model_name": "gpt-4o-mini"})


def test_azure_openai_deployment_path_and_key_header(fake):
    fake.enqueue(Reply(body=openai_completion("hi", 1000, 100, model="gpt-4o-2024-08-06")))
    client = get_client(
        "azure_openai",
        {
            "model_name": "my-deployment",
            "api_key": "azure-key",
            "azure_endpoint": fake.url,
            "api_version": "2024-10-21",
        },
    )
    response = client.complete("x")
    request = fake.requests[0]
    assert (
        request.path == "/openai/deployments/my-deployment/chat/completions?api-version=2024-10-21"
    )
    assert request.headers["api-key"] == "azure-key"
    # The deployment name is unknown to the price table; the reported model is not.
    assert response.usage.model == "my-deployment"
    assert response.usage.cost == pytest.approx((1000 * 2.50 + 100 * 10.0) / 1e6)


def test_usage_of_every_call_in_a_concurrent_batch_is_counted(fake):
    def reply(received):
        n = len(received.body["messages"][0]["content"])
        return Reply(body=openai_completion(f"len {n}", prompt_tokens=n, completion_tokens=2))

    fake.default = reply
    client = make(fake)
    prompts = ["x" * n for n in range(1, 17)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(client.complete, prompts))

    async def run():
        return await asyncio.gather(*(client.acomplete(p) for p in prompts))

    aresponses = asyncio.run(run())
    assert [r.text for r in responses] == [f"len {n}" for n in range(1, 17)]
    assert [r.usage.input_tokens for r in aresponses] == list(range(1, 17))
    summary = client.get_usage_summary()
    total_in = 2 * sum(range(1, 17))
    assert summary.total_calls == 32
    assert summary.total_input_tokens == total_in
    assert summary.total_output_tokens == 64
    assert summary.total_cost == pytest.approx((total_in * 0.15 + 64 * 0.60) / 1e6)
    assert summary.total_cost == pytest.approx(
        sum(r.usage.cost for r in responses + list(aresponses))
    )


def test_missing_usage_counts_zero_and_unknown_cost(fake, caplog):
    body = openai_completion("hi")
    del body["usage"]
    fake.enqueue(Reply(body=body))
    response = make(fake).complete("x")
    assert (response.usage.input_tokens, response.usage.cost) == (0, None)
    assert "returned no token usage" in caplog.text


def test_describe_has_no_secret(fake):
    client = make(fake, api_key="sk-very-secret")
    assert "sk-very-secret" not in repr(client.describe())


def test_an_rlm_run_end_to_end_over_the_real_sdk(fake):
    """The engine drives the openai client: root turns and a llm_query sub-call all travel
    over HTTP, and the run's usage summary is the sum of what the server reported."""
    from rlm import RLM

    def reply(received):
        messages = received.body["messages"]
        if messages[0]["role"] != "system":  # the sub-call: one plain user message
            return Reply(body=openai_completion("the needle is 7", 50, 5))
        if not any("the needle is 7" in str(m["content"]) for m in messages):
            code = "```repl\nanswer_text = llm_query('find the needle in: ' + context[:100])\nprint(answer_text)\n```"
            return Reply(body=openai_completion(code, 500, 40))
        return Reply(body=openai_completion("FINAL(7)", 700, 4))

    fake.default = reply
    rlm = RLM(
        backend="openai",
        backend_kwargs={
            "model_name": "gpt-4o-mini",
            "api_key": "k",
            "base_url": fake.url + "/v1",
        },
        environment="local",
        max_iterations=4,
    )
    result = rlm.completion("haystack " * 50 + "needle=7")
    assert result.response.strip() == "7"
    summary = result.usage_summary
    assert summary.total_calls == len(fake.requests) == 3
    assert summary.total_input_tokens == 500 + 50 + 700
    assert summary.total_output_tokens == 40 + 5 + 4
    assert summary.total_cost == pytest.approx((1250 * 0.15 + 49 * 0.60) / 1e6)


def test_a_stream_cut_mid_answer_is_retried_not_returned_as_whole(fake):
    from rlm.clients.retry import RetryPolicy

    truncated = openai_stream(["The answer", " is"])[:3]  # no finish chunk, no usage, no [DONE]
    fake.enqueue(Reply(sse=truncated), Reply(sse=openai_stream(["The answer is 42."], 9, 5)))
    client = make(fake, stream=True, retry={"max_retries": 2, "initial_delay": 0.01})
    assert isinstance(client.retry, RetryPolicy)
    response = client.complete("x")
    assert response.text == "The answer is 42."
    assert response.usage.input_tokens == 9
    assert len(fake.requests) == 2
