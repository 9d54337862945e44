"""The engine runs on the sandbox exactly as on local: `environment="sandbox"` is all it takes."""

from __future__ import annotations

import re

import pytest

from env_support import require_sandbox
from rlm import RLM


@pytest.fixture(autouse=True)
def _sandbox_here():
    require_sandbox()  # skips, or fails under RLM_REQUIRE_SANDBOX=1


def _model(messages):
    """Plays a root model that reads the context in code, asks a sub-model, then answers.
    A sub-call arrives as one user message ("hello") and gets a fixed reply."""
    if len(messages) == 1 and messages[0]["content"] == "hello":
        return "sub-answer"
    if any(m["role"] == "assistant" for m in messages):
        return "FINAL(summary)"
    return (
        "```repl\nn_found = context.count('needle')\nnote = llm_query('hello')\n"
        "summary = f'{n_found}:{note}'\nprint(summary)\n```"
    )


def test_completion_on_the_sandbox_reads_the_context_and_calls_back():
    rlm = RLM(backend="function", backend_kwargs={"function": _model}, environment="sandbox",
              environment_kwargs={"cell_timeout": 30})  # fmt: skip
    result = rlm.completion("hay needle hay needle hay needle hay")
    assert result.response == "3:sub-answer"


def test_a_runaway_cell_does_not_end_the_run():
    calls = {"n": 0}

    def model(messages):
        calls["n"] += 1
        if calls["n"] == 1:
            return "```repl\nwhile True:\n    pass\n```"
        text = "\n".join(m["content"] for m in messages)
        lost = "state lost" in text
        return f"FINAL({'recovered' if lost else 'missed'})"

    rlm = RLM(backend="function", backend_kwargs={"function": model}, environment="sandbox",
              environment_kwargs={"cell_timeout": 1})  # fmt: skip
    result = rlm.completion("anything")
    assert re.fullmatch("recovered", result.response)
