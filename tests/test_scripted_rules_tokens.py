"""The `scripted` backend's pattern rules (pyrlm-runtime's FakeAdapter) and token counting
(tiktoken with an encoding it has on disk, else ~4 characters a token; never a download)."""

from __future__ import annotations

import pytest

from rlm import tokens
from rlm.clients import get_client
from rlm.errors import ConfigurationError, ScriptExhaustedError
from runtime_support import RUNTIME_ENVS, env_param, repl, scripted_rlm


def test_rules_answer_matching_prompts_before_the_script():
    lm = get_client(
        "scripted",
        {"responses": ["first", "second"], "rules": [("Summarize", "a summary")]},
    )
    lm.add_rule(r"key\s+\d+", "key found", regex=True, once=True)
    assert lm.complete("Summarize: long text").text == "a summary"
    assert lm.complete("find key 42").text == "key found"
    assert lm.complete("find key 42").text == "first"  # once: the rule is gone
    assert lm.complete("Summarize again").text == "a summary"  # rules take no script slot
    assert lm.complete("other").text == "second"
    with pytest.raises(ScriptExhaustedError, match="no rule matched"):
        lm.complete("other")


def test_rules_match_the_latest_user_message_only():
    lm = get_client("scripted", {"responses": ["scripted"], "rules": [("needle", "ruled")]})
    messages = [
        {"role": "user", "content": "needle in an old turn"},
        {"role": "assistant", "content": "needle"},
        {"role": "user", "content": "new turn"},
    ]
    assert lm.complete(messages).text == "scripted"


def test_bad_rules_are_configuration_errors():
    with pytest.raises(ConfigurationError, match="regex"):
        get_client("scripted", {"rules": [{"pattern": "(", "response": "x", "regex": True}]})
    with pytest.raises(ConfigurationError, match="a rule is"):
        get_client("scripted", {"rules": ["just a string"]})


@pytest.mark.parametrize("env_name", RUNTIME_ENVS)
def test_rules_play_the_sub_model_in_a_run(env_name):
    env_param(env_name)
    rules = [{"pattern": "Summarize", "response": "[fake] short summary"}]
    code = "summary = llm_query('Summarize: ' + peek(20))\nresult = 'Summary -> ' + summary"
    rlm = scripted_rlm(env_name, [repl(code), "FINAL_VAR(result)"], rules)
    result = rlm.completion("RLMs treat long prompts as environment state.")
    assert result.response == "Summary -> [fake] short summary"


# -- token counting ------------------------------------------------------------------------------
@pytest.fixture
def fresh_tokens(monkeypatch):
    monkeypatch.setattr(tokens, "_loaded", {})
    yield
    tokens.set_encoding(None)


def test_without_an_encoding_on_disk_it_estimates_and_never_downloads(
    fresh_tokens, monkeypatch, tmp_path
):
    pytest.importorskip("tiktoken")
    import tiktoken.load

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))  # an empty cache
    monkeypatch.delenv("RLM_TIKTOKEN_DOWNLOAD", raising=False)
    fetched = []
    real_read = tiktoken.load.read_file
    monkeypatch.setattr(
        "requests.get", lambda *a, **k: fetched.append(a) or pytest.fail("network use")
    )
    assert tokens.encoding_for("gpt-4o") is None
    assert tokens.count_tokens("12345678") == 2 == tokens.estimate_tokens("12345678")
    assert fetched == [] and tiktoken.load.read_file is real_read  # restored after the load


def test_a_tiktoken_encoding_counts_exactly(fresh_tokens):
    tiktoken = pytest.importorskip("tiktoken")
    # A byte-level encoding built in memory (no files): one token per byte.
    encoding = tiktoken.Encoding(
        name="bytes",
        pat_str=r"[\s\S]",
        mergeable_ranks={bytes([i]): i for i in range(256)},
        special_tokens={},
    )
    tokens.set_encoding(encoding)
    assert tokens.count_tokens("12345678") == 8  # the estimate would say 2
    messages = [{"role": "user", "content": "abcd"}, {"role": "assistant", "content": None}]
    assert tokens.count_message_tokens(messages) == 4 + 2 * tokens.MESSAGE_OVERHEAD
    # The offline backends report usage with the same counter, so budgets see it too.
    lm = get_client("scripted", {"responses": ["xyz"]})
    assert lm.complete("abcdefgh").usage.input_tokens == 8


@pytest.mark.parametrize("env_name", RUNTIME_ENVS)
def test_compaction_counts_the_conversation_when_usage_is_not_reported(env_name):
    env_param(env_name)
    from rlm import RLM
    from rlm.types import CallUsage, LMResponse

    asked = []

    def model(messages):
        last = messages[-1]["content"]
        asked.append(last)
        if "Summarise it for yourself" in last:
            text = "summary: printed a long line"
        elif len(asked) == 1:
            text = repl("print('x' * 5000)")
        else:
            text = "FINAL(done)"
        return LMResponse(text, CallUsage("m", 0, 0))  # a server that reports no usage

    rlm = RLM(
        backend="function",
        backend_kwargs={"function": model, "context_window": 1_000},
        environment=env_name,
        compaction=True,
    )
    assert rlm.completion("ctx").response == "done"
    # 5,000 characters of output (~1,250 tokens) pass 85% of a 1,000-token window although
    # every call reported 0 tokens: the loop counted the messages and compacted.
    assert any("Summarise it for yourself" in a for a in asked)
