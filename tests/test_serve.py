"""`rlm serve` on a real uvicorn server on 127.0.0.1, driven by the official `openai` client.
The RLM's root model is played by a function backend; the REPL is real (`local`)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest

openai = pytest.importorskip("openai")
uvicorn = pytest.importorskip("uvicorn")
pytest.importorskip("starlette")

from click.testing import CliRunner  # noqa: E402

from fake_sandboxes import LoopbackServer  # noqa: E402
from rlm.cli.main import main as cli  # noqa: E402
from rlm.serve import ServeConfig, create_app  # noqa: E402

KEY = "sk-test-serve"
RELEASE = threading.Event()  # holds the "slow" model until a test lets it go


def model(messages):
    """Plays the root model: first turn inspects the conversation in the REPL, then answers."""
    if any("SLOW" in str(m["content"]) for m in messages[:3]):
        RELEASE.wait(30)
    if not any(m["role"] == "assistant" for m in messages):
        return ("```repl\nsummary = f\"{len(context)} messages; asked: "
                "{context[-1]['content']}; first: {context[0]['content']}\"\n```")  # fmt: skip
    return "FINAL_VAR(summary)"


class Served(LoopbackServer):
    def __init__(self, config: ServeConfig):
        self.app = create_app(config)
        super().__init__(self.app, lifespan="on")
        self.base_url = f"{self.url}/v1"

    def client(self, key: str = KEY) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.base_url, api_key=key, max_retries=0, timeout=60)


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    config = ServeConfig(
        rlm_kwargs={"backend": "function", "backend_kwargs": {"function": model},
                    "environment": "local", "max_iterations": 5},
        api_key=KEY, max_concurrent=1, log_dir=str(tmp_path_factory.mktemp("serve-logs")),
    )  # fmt: skip
    server = Served(config)
    yield server
    RELEASE.set()
    server.stop()


MESSAGES = [
    {"role": "system", "content": "Long document: the sky is green."},
    {"role": "user", "content": "What colour is the sky?"},
]


def test_openai_client_gets_an_answer_with_finish_reason_and_log_id(served):
    reply = served.client().chat.completions.create(model="rlm", messages=MESSAGES)
    expected = "2 messages; asked: What colour is the sky?; first: Long document: the sky is green."
    assert reply.choices[0].message.content == expected
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage.prompt_tokens > 0 and reply.usage.completion_tokens > 0
    extra = reply.model_extra["rlm"]
    assert extra["finish_reason"] == "final"  # the run's own reason (docs/answers.md)
    assert extra["log_id"].startswith("serve_")
    assert extra["usage_summary"]["model_usage_summaries"]["function"]["total_calls"] == 2


def test_openai_client_streams_the_answer(served):
    stream = served.client().chat.completions.create(
        model="rlm", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("2 messages; asked: What colour is the sky?")
    finishes = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finishes == ["stop"]
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


def test_wrong_or_missing_key_is_refused(served):
    with pytest.raises(openai.AuthenticationError):
        served.client("sk-wrong").chat.completions.create(model="rlm", messages=MESSAGES)
    with pytest.raises(openai.AuthenticationError):
        served.client("sk-wrong").models.list()
    assert [m.id for m in served.client().models.list()] == ["rlm"]


def test_per_request_settings_are_allow_listed_and_can_only_tighten(served):
    client = served.client()
    tight = client.chat.completions.create(model="rlm", messages=MESSAGES,
                                           extra_body={"rlm": {"max_tokens": 1}})  # fmt: skip
    assert tight.choices[0].finish_reason == "length"
    assert tight.model_extra["rlm"]["error_type"] == "TokenLimitExceededError"
    with pytest.raises(openai.BadRequestError, match="only tighten"):
        client.chat.completions.create(model="rlm", messages=MESSAGES,
                                       extra_body={"rlm": {"max_iterations": 50}})  # fmt: skip
    with pytest.raises(openai.BadRequestError, match="cannot be set per request"):
        client.chat.completions.create(model="rlm", messages=MESSAGES,
                                       extra_body={"rlm": {"backend_kwargs": {"base_url": "x"}}})  # fmt: skip
    with pytest.raises(openai.BadRequestError, match="no user message"):
        client.chat.completions.create(model="rlm", messages=[{"role": "system", "content": "x"}])


def test_past_the_concurrency_limit_requests_get_429_with_retry_after(served):
    RELEASE.clear()
    slow: dict = {}
    first = threading.Thread(target=lambda: slow.update(r=served.client().chat.completions.create(
        model="rlm", messages=[{"role": "user", "content": "SLOW please"}])))  # fmt: skip
    first.start()
    try:
        gate = served.app.state.rlm_server.gate
        deadline = time.monotonic() + 10
        while gate.active < 1 and time.monotonic() < deadline:  # the slow run holds the slot
            time.sleep(0.02)
        with pytest.raises(openai.RateLimitError) as info:
            served.client().chat.completions.create(model="rlm", messages=MESSAGES)
        busy = info.value
        assert busy.response.headers["retry-after"] == "1"
        assert json.loads(busy.response.text)["error"]["code"] == "server_busy"
    finally:
        RELEASE.set()
        first.join(30)
    assert slow["r"].choices[0].message.content.startswith("1 messages; asked: SLOW please")


def test_cli_refuses_a_public_bind_without_an_api_key(monkeypatch):
    monkeypatch.delenv("RLM_SERVE_API_KEY", raising=False)
    result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0", "-b", "scripted"])
    assert result.exit_code == 2
    assert "needs --api-key" in result.output
