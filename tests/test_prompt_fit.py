"""Prompts that fit the context and the model: the context's real shape with a matching
example, REPL output budgeted against the model's window, and plain calls (max_depth=0) that
keep the question. Both `local` and `sandbox`."""

from __future__ import annotations

import pytest

from conftest import last_user, repl
from env_support import ENGINE_ENVS
from rlm import RLM
from rlm.clients.base import BaseLM
from rlm.core.context_shape import context_as_text, describe_shape
from rlm.core.output_budget import ELIDED, fit_to_window, turn_output_chars
from rlm.types import CallUsage, LMResponse

ENVS = ENGINE_ENVS

DOCS = [
    {"path": "/data/pkg/alpha.py", "content": "A = 1\n"},
    {"path": "/data/pkg/beta.py", "content": "B = 2\n"},
]


class SmallWindow(BaseLM):
    """A model with a small context window that records every prompt it receives."""

    def __init__(self, replies, window):
        super().__init__(model_name="small")
        self.context_window = window
        self.replies = list(replies)
        self.prompts = []

    def complete(self, prompt, **sampling):
        self.prompts.append(prompt)
        return LMResponse(self.replies.pop(0), self.record(CallUsage("small", 10, 5)))


# -- the context's shape ------------------------------------------------------------------------


def test_documents_are_described_with_their_paths_and_a_matching_example():
    shape = describe_shape(DOCS)
    assert shape.kind == "documents"
    assert 'doc["path"]' in shape.description and "alpha.py, beta.py" in shape.description
    assert "under /data/pkg/" in shape.description
    assert 'doc["content"]' in shape.example and "splitlines" in shape.example
    assert "context.splitlines()" not in shape.example


@pytest.mark.parametrize(
    ("context", "kind", "in_example"),
    [
        ("one\ntwo", "text", "context.splitlines()"),
        (["a", "bb"], "strings", "enumerate(context)"),
        ({"k": "v", "n": 3}, "dict", "context.items()"),
        ([1, {"x": 2}], "items", "repr(item)"),
    ],
)
def test_every_shape_gets_its_own_example(context, kind, in_example):
    shape = describe_shape(context)
    assert shape.kind == kind and in_example in shape.example


@pytest.mark.parametrize("env", ENVS)
def test_the_system_prompt_shows_the_documents_example_and_the_model_can_run_it(env):
    seen = []

    def model(messages):
        seen.append(messages)
        if len(seen) == 1:
            # The example from the prompt, with a real keyword: it must run on this context.
            example = messages[0]["content"].split("```repl\n")[1].split("```")[0]
            return repl(example.replace('"keyword"', '"b ="'))
        return "FINAL(done)"

    RLM(backend="function", backend_kwargs={"function": model}, environment=env).completion(
        DOCS, root_prompt="Which file defines B?"
    )
    system = seen[0][0]["content"]
    assert "a list of 2 documents" in system and "beta.py" in system
    assert "/data/pkg/beta.py | B = 2" in last_user(seen[1])


def test_the_local_backends_prompt_uses_the_shapes_example():
    from rlm.clients.local_prompt import SMALL_MODEL_SYSTEM_PROMPT

    assert "{context_example}" in SMALL_MODEL_SYSTEM_PROMPT
    assert "splitlines" not in SMALL_MODEL_SYSTEM_PROMPT  # only through the example


# -- output budget --------------------------------------------------------------------------------


def test_turn_budget_follows_the_window():
    assert turn_output_chars(20_000, 128_000) == 20_000
    assert turn_output_chars(20_000, 8_192) < 4_000
    assert turn_output_chars(20_000, 512) == 1_000


@pytest.mark.parametrize("env", ENVS)
def test_an_8k_model_never_gets_20k_characters_of_output(env):
    model = SmallWindow([repl("print('x' * 50_000)"), "FINAL(ok)"], window=8_192)
    RLM(backend=model, environment=env).completion("c")
    feedback = model.prompts[1][-1]["content"]
    assert len(feedback) < 4_500
    assert "characters of output dropped" in feedback


def test_old_output_is_elided_to_keep_the_conversation_inside_the_window():
    messages = [
        {"role": "system", "content": "s" * 300},
        {"role": "user", "content": "question"},
    ]
    for turn in range(6):
        messages.append({"role": "assistant", "content": f"code {turn}"})
        messages.append({"role": "user", "content": "o" * 3_000})
    fitted = fit_to_window(messages, context_window=4_000, reply_tokens=1_000)
    assert fitted[0] == messages[0] and fitted[1] == messages[1]
    assert fitted[-1] == messages[-1]  # the newest output is kept
    assert ELIDED in [m["content"] for m in fitted]
    assert all(m["content"] == f"code {t}" for t, m in enumerate(fitted[2::2]))  # code stays
    assert sum(len(m["content"]) for m in fitted) / 3 <= 3_000
    assert messages[3]["content"] == "o" * 3_000  # the original is untouched


@pytest.mark.parametrize("env", ENVS)
def test_a_long_run_on_a_small_window_keeps_going(env):
    replies = [repl(f"print('{n}' * 1500)") for n in range(8)] + ["FINAL(done)"]
    model = SmallWindow(replies, window=2_048)
    result = RLM(backend=model, environment=env).completion("c")
    assert result.response == "done"
    for prompt in model.prompts:
        assert sum(len(m["content"]) for m in prompt) / 3 < 2_048


# -- max_depth=0 keeps the question ---------------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_max_depth_zero_delivers_context_and_question(env):
    seen = []

    def model(messages):
        seen.append(messages)
        return "30"

    rlm = RLM(backend="function", backend_kwargs={"function": model}, environment=env,
              max_depth=0)  # fmt: skip
    result = rlm.completion("Cure within 30 days.", root_prompt="How many days?")
    assert (result.response, result.finish_reason) == ("30", "plain")
    content = seen[0][-1]["content"]
    assert "Cure within 30 days." in content and "How many days?" in content


def test_max_depth_zero_renders_documents_with_their_paths():
    seen = []
    rlm = RLM(
        backend="function",
        backend_kwargs={"function": lambda m: seen.append(m) or "beta.py"},
        environment="local",
        max_depth=0,
    )
    rlm.completion(DOCS, root_prompt="Which file defines B?")
    content = seen[0][-1]["content"]
    assert "=== /data/pkg/beta.py ===\nB = 2" in content and "Which file defines B?" in content
    assert context_as_text({"a": 1}).startswith("{")


def test_max_depth_zero_without_a_separate_question_sends_the_prompt_once():
    seen = []
    rlm = RLM(
        backend="function",
        backend_kwargs={"function": lambda m: seen.append(m) or "hi"},
        environment="local",
        max_depth=0,
    )
    rlm.completion("hello", root_prompt="hello")
    assert seen[0] == [{"role": "user", "content": "hello"}]


@pytest.mark.parametrize("env", ENVS)
def test_a_search_that_printed_nothing_is_called_so(env):
    seen = []

    def model(messages):
        seen.append(last_user(messages))
        return repl("x = 1") if len(seen) == 1 else "FINAL(ok)"

    RLM(backend="function", backend_kwargs={"function": model}, environment=env).completion("c")
    assert "printed nothing, so it found nothing" in seen[1]
