"""Environments used on their own, the reference's way (no RLM around them)."""

from __future__ import annotations

import pytest

from rlm.compat.lm_handler import LMHandler
from rlm.environments import get_environment
from rlm.environments.local import LocalREPL
from rlm.environments.sandbox import SandboxREPL
from rlm.types import RLMChatCompletion, UsageSummary


def completion(text: str) -> RLMChatCompletion:
    return RLMChatCompletion("child", "p", text, UsageSummary(), 0.0)


@pytest.fixture(params=["local", "sandbox"])
def make_env(request):
    made = []

    def build(**kwargs):
        env = (LocalREPL if request.param == "local" else SandboxREPL)(**kwargs)
        made.append(env)
        return env

    yield build
    for env in made:
        env.cleanup()


def test_context_tools_and_setup_code(make_env):
    env = make_env(context_payload={"k": 2}, setup_code="BASE = 10",
                   custom_tools={"double": lambda x: 2 * x, "CONST": {"tool": 3, "description": "c"}})  # fmt: skip
    result = env.execute_code("v = double(context['k']) + CONST + BASE")
    assert result.stderr == "" and env.locals["v"] == 17


def test_add_context_and_history_without_an_index(make_env):
    env = make_env()
    assert [env.add_context("a"), env.add_context("b")] == [0, 1]
    history = [{"role": "user", "content": "q"}]
    assert env.add_history(history) == 0
    history[0]["content"] = "changed"
    assert env.execute_code("print(context, context_1, history[0]['content'])").stdout == "a b q\n"
    assert (env.get_context_count(), env.get_history_count()) == (2, 1)


def test_subcall_fn_serves_rlm_query_and_records_calls(make_env):
    env = make_env(subcall_fn=lambda prompt, model: completion(f"re:{prompt}:{model}"))
    result = env.execute_code("print(rlm_query_batched(['a', 'b'], model='m'), llm_query('x'))")
    assert "['re:a:m', 're:b:m'] Error: No LM handler configured" in result.stdout
    assert [c.response for c in result.rlm_calls] == ["re:a:m", "re:b:m"]


def test_llm_query_through_a_loopback_lm_handler(make_env):
    from rlm.clients.offline import FunctionLM

    lm = FunctionLM(lambda messages: "pong:" + messages[-1]["content"], model_name="f")
    with LMHandler(lm) as handler:
        env = make_env(lm_handler_address=handler.address)
        result = env.execute_code("print(llm_query('ping'))")
    assert result.stdout == "pong:ping\n" and result.rlm_calls[0].root_model == "f"


def test_get_environment_takes_a_kwargs_dict():
    env = get_environment("local", {"context_payload": "c"})
    try:
        assert env.locals["context"] == "c"
    finally:
        env.cleanup()
    assert env.locals == {}


def test_ipython_takes_the_reference_keywords():
    pytest.importorskip("IPython")
    from rlm.environments.ipython import IPythonREPL
    from rlm.errors import ConfigurationError

    for bad in ({"kernel_mode": "nonsense"}, {"startup_timeout": 0}, {"subcall_timeout": -1}):
        with pytest.raises(ConfigurationError):
            IPythonREPL(**bad)
    calls = []
    with IPythonREPL(
        kernel_mode="in_process",  # runs in the locked-down worker all the same
        subcall_fn=lambda p, m: calls.append(p) or completion("child"),
        custom_tools={"MAGIC": 21},
    ) as repl:
        result = repl.execute_code("x = MAGIC * 2\nprint(rlm_query('go'))")
        assert result.stdout == "child\n" and calls == ["go"] and repl.locals["x"] == 42
