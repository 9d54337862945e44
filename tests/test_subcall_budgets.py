"""`max_subcalls` and `max_subcall_tokens`: counted over the whole recursion tree (a child
run's calls charge its parents), raising a LimitExceededError with the partial answer, or,
with on_subcall_limit="finalize", refusing further sub-calls and asking for the best answer."""

from __future__ import annotations

import pytest

from rlm import LimitExceededError, SubcallLimitExceededError, SubcallTokenLimitExceededError
from rlm.core.limits import Limits, RunGuard
from rlm.errors import ConfigurationError
from rlm.types import CallUsage
from runtime_support import RUNTIME_ENVS, env_param, repl, scripted_rlm

SUB = [{"pattern": r"^q\d+$", "response": "A", "regex": True}]
FIVE_CALLS = "answer['content'] = 'partial'\nr = [llm_query('q%d' % i) for i in range(5)]\nprint(r)"


@pytest.fixture(params=RUNTIME_ENVS)
def env_name(request: pytest.FixtureRequest) -> str:
    return env_param(request.param)


def test_max_subcalls_raises_with_the_partial_answer(env_name):
    rlm = scripted_rlm(env_name, [repl(FIVE_CALLS), "FINAL(x)"], SUB, max_subcalls=3)
    with pytest.raises(SubcallLimitExceededError) as info:
        rlm.completion("ctx")
    assert isinstance(info.value, LimitExceededError)
    assert (info.value.subcalls, info.value.limit) == (4, 3)
    assert info.value.partial_answer == "partial"
    assert "max_subcalls" in str(info.value)


def test_finalize_refuses_extra_subcalls_and_asks_for_the_best_answer(env_name):
    rlm = scripted_rlm(
        env_name,
        [repl(FIVE_CALLS), "FINAL(best so far)"],
        SUB,
        max_subcalls=3,
        on_subcall_limit="finalize",
    )
    result = rlm.completion("ctx", root_prompt="q?")
    assert result.response == "best so far"
    stdout = result.trace.steps[1].stdout
    assert stdout.count("'A'") == 3 and stdout.count("[SUBCALL_LIMIT] max_subcalls (3)") == 2
    # Only 3 sub-calls reached the model; the last root turn was told the budget is spent.
    assert len(result.trace.of_kind("subcall")) == 3
    last_prompt = rlm.router.root.calls[-1][-1]["content"]
    assert "sub-call budget is used up (max_subcalls (3))" in last_prompt
    assert result.usage_summary.total_calls == 2 + 3


def test_a_batch_is_refused_in_prompt_order(env_name):
    code = "print(llm_query_batched(['q1', 'q2', 'q3']))"
    rlm = scripted_rlm(
        env_name, [repl(code), "FINAL(ok)"], SUB, max_subcalls=2, on_subcall_limit="finalize"
    )
    result = rlm.completion("ctx")
    assert result.trace.steps[1].stdout.startswith("['A', 'A', '[SUBCALL_LIMIT]")


def test_child_runs_count_against_the_parents_budget(env_name):
    # Root: one rlm_query (sub-call 1) whose child run makes two llm_query (2 and 3), then
    # the root's own llm_query is the 4th: over max_subcalls=3 for the whole tree.
    root = repl("r = rlm_query('sub task')\nprint(r, llm_query('q9'))")
    child = repl("print(llm_query('q1'), llm_query('q2'))", "FINAL(kid)")
    rlm = scripted_rlm(env_name, [root, child, "FINAL(x)"], SUB, max_subcalls=3, max_depth=2)
    with pytest.raises(SubcallLimitExceededError) as info:
        rlm.completion("ctx")
    assert info.value.subcalls == 4


def test_max_subcall_tokens_counts_child_runs_and_raises(env_name):
    root = repl("r = rlm_query('sub task')\nprint(r)")
    child = repl("print(llm_query('q1'))", "FINAL(kid)")
    rlm = scripted_rlm(env_name, [root, child, "FINAL(x)"], SUB, max_subcall_tokens=50, max_depth=2)
    with pytest.raises(SubcallTokenLimitExceededError) as info:
        rlm.completion("ctx")
    # The child's own root call (hundreds of tokens of system prompt) is sub-call spend for
    # the root run, so the budget trips although the root made no llm_query itself.
    assert info.value.tokens_used > info.value.token_limit == 50


def test_max_subcall_tokens_finalize_lets_the_model_answer(env_name):
    code = "a = llm_query('q1')\nb = llm_query('q2')\nprint(a, b)"
    rules = [{"pattern": r"^q\d$", "response": "word " * 40, "regex": True}]  # ~50 tokens
    rlm = scripted_rlm(
        env_name,
        [repl(code), "FINAL(enough)"],
        rules,
        max_subcall_tokens=30,
        on_subcall_limit="finalize",
    )
    result = rlm.completion("ctx")
    assert result.response == "enough"
    assert "[SUBCALL_LIMIT] max_subcall_tokens (30)" in result.trace.steps[1].stdout


def test_root_calls_are_not_subcall_spend():
    guard = RunGuard(Limits(max_subcall_tokens=10))
    guard.charge(CallUsage("m", 500, 500))  # the root model's own call
    assert guard.subcall_tokens == 0 and guard.tokens == 1000
    child = RunGuard(parent=guard)
    child.charge(CallUsage("m", 3, 3))  # a child's root call: sub-call spend for the parent
    assert (child.subcall_tokens, guard.subcall_tokens) == (0, 6)


def test_bad_budget_settings_are_configuration_errors():
    with pytest.raises(ConfigurationError, match="max_subcalls"):
        scripted_rlm("local", [], max_subcalls=-1)
    with pytest.raises(ConfigurationError, match="on_subcall_limit"):
        scripted_rlm("local", [], on_subcall_limit="ignore")
