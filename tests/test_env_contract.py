"""One contract every environment keeps (local, sandbox, docker, ipython where available).

The same REPL names and rules everywhere: contexts, persistence, errors as data, final
answers, name restoration, host callbacks, tools, histories.
"""

from __future__ import annotations

import pytest

from env_support import ALL_ENVS, EchoHost, make_env
from rlm.environments import BaseEnv, ToolSpec
from rlm.errors import REPLEnvironmentError


@pytest.fixture(params=ALL_ENVS)
def env_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def env(env_name: str):
    tools = [
        ToolSpec("add", lambda a, b: a + b, "adds two numbers"),
        ToolSpec("SETTINGS", {"mode": "fast", "n": 3}),
    ]
    environment = make_env(env_name, tools=tools, host=EchoHost(tools))
    yield environment
    environment.close()


def test_str_context_is_bound_as_context_and_context_0(env):
    env.load_context("the haystack has a needle")
    result = env.execute_code("print(context.count('needle'), context_0 is context)")
    assert result.stdout.strip() == "1 True"
    assert result.stderr == ""


def test_dict_and_list_contexts_keep_their_shape(env):
    env.load_context({"docs": ["a", "b"], "n": 2}, 0)
    env.load_context(["x", "y", "z"], 1)
    result = env.execute_code("print(type(context).__name__, context['n'], len(context_1))")
    assert result.stdout.strip() == "dict 2 3"


def test_variables_persist_across_cells_and_survive_an_exception(env):
    env.execute_code("a = 41")
    failed = env.execute_code("b = a + 1\nraise ValueError('boom')")
    assert "ValueError: boom" in failed.stderr
    assert failed.final_answer is None
    after = env.execute_code("print(a, b)")
    assert after.stdout.strip() == "41 42"
    assert {"a", "b"} <= set(after.locals)


def test_syntax_error_is_reported_not_raised(env):
    result = env.execute_code("def broken(:\n  pass")
    assert "SyntaxError" in result.stderr


def test_last_expression_is_echoed(env):
    result = env.execute_code("x = 6\nx * 7")
    assert "42" in result.stdout


def test_final_and_final_var_and_answer_dict(env):
    assert env.execute_code("FINAL('done')").final_answer == "done"
    env.execute_code("result_value = 'from a variable'")
    assert env.execute_code("FINAL_VAR('result_value')").final_answer == "from a variable"
    assert env.execute_code("answer['content'] = 'ready now'").final_answer is None
    assert env.execute_code("answer['ready'] = True").final_answer == "ready now"
    assert env.resolve_variable("result_value") == "from a variable"
    assert env.resolve_variable("missing_name") is None


def test_reserved_names_are_restored_after_being_overwritten(env):
    env.load_context("kept")
    env.execute_code("context = 'clobbered'\nllm_query = None\nFINAL = 3")
    result = env.execute_code("print(context, llm_query('q'))\nFINAL('ok')")
    assert result.stdout.strip() == "kept echo:q"
    assert result.final_answer == "ok"


def test_llm_query_and_batched_reach_the_host(env):
    result = env.execute_code(
        "one = llm_query('hi')\nmany = llm_query_batched(['a', 'b', 'c'])\n"
        "sub = rlm_query('deep')\nprint(one, many, sub)"
    )
    assert result.stdout.strip() == "echo:hi ['echo:a', 'echo:b', 'echo:c'] echo:deep"
    names = [name for name, _ in env.host.calls]
    assert names == ["llm_query", "llm_query_batched", "rlm_query"]


def test_host_errors_come_back_to_model_code_as_exceptions(env):
    result = env.execute_code(
        "try:\n    add('only one')\nexcept Exception as exc:\n    print('caught', type(exc).__name__)"
    )
    assert result.stdout.startswith("caught")


def test_callable_and_data_tools(env):
    result = env.execute_code("print(add(2, 3), SETTINGS['mode'], SETTINGS['n'])")
    assert result.stdout.strip() == "5 fast 3"


def test_history_is_bound(env):
    env.add_history([{"role": "user", "content": "earlier question"}], 0)
    result = env.execute_code("print(history[0]['content'], history_0 is history)")
    assert result.stdout.strip() == "earlier question True"


def test_show_vars_lists_user_variables_only(env):
    env.load_context("ctx")
    env.execute_code("alpha = 1\nbeta = 'two'")
    result = env.execute_code("SHOW_VARS()")
    assert "alpha" in result.stdout and "beta" in result.stdout
    assert "llm_query" not in result.stdout


def test_close_twice_is_safe(env):
    env.execute_code("x = 1")
    env.close()
    env.close()


def test_compaction_history_keeps_every_entry(env_name: str):
    environment = make_env(env_name, compaction=True)
    try:
        environment.append_compaction_history({"role": "assistant", "content": "step 1"})
        environment.append_compaction_history({"role": "user", "content": "step 2"})
        result = environment.execute_code("print(len(history), history[-1]['content'])")
        assert result.stdout.strip() == "2 step 2"
    finally:
        environment.close()


def test_json_variables_in_and_out(env):
    if type(env).set_variables is BaseEnv.set_variables:
        pytest.skip(f"{env.name}: no host-set variables (optional seam; it says so when used)")
    env.load_context("ctx")
    env.add_history([{"role": "user", "content": "hi"}], 0)
    env.set_variables({"profile": {"name": "Alex"}, "n": 3})
    env.execute_code("m = n + 1\nshape = {1, 2}\nf = lambda: 0\nprint(profile['name'])")
    # JSON data only: not sets or functions, not contexts, histories, tools or REPL names.
    assert env.json_variables() == {"profile": {"name": "Alex"}, "n": 3, "m": 4}
    with pytest.raises(REPLEnvironmentError, match="not a free variable name"):
        env.set_variables({"context": "replaced"})
    assert env.execute_code("print(context)").stdout.strip() == "ctx"
