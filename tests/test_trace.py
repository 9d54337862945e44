"""`result.trace`: built from the recorded trajectory, so it agrees with the JSONL log of the
same run step for step; serialises to JSON and back; nests child runs as sub_* steps."""

from __future__ import annotations

import pytest

from rlm import RLM, Trace, TraceStep
from rlm.logger import RLMLogger
from runtime_support import RUNTIME_ENVS, env_param, repl, scripted_rlm

SUB = [{"pattern": r"^q\d$", "response": "A", "regex": True}]


@pytest.fixture(params=RUNTIME_ENVS)
def env_name(request: pytest.FixtureRequest) -> str:
    return env_param(request.param)


def test_trace_steps_and_tokens_match_the_run(env_name):
    rlm = scripted_rlm(
        env_name, [repl("print(llm_query('q1'))\n1/0"), "FINAL(done)"], SUB, max_depth=1
    )
    result = rlm.completion("ctx", root_prompt="q?")
    kinds = [s.kind for s in result.trace.steps]
    assert kinds == ["root_call", "repl_exec", "subcall", "root_call"]
    repl_step = result.trace.steps[1]
    assert repl_step.code.startswith("print(llm_query('q1'))")
    assert repl_step.stdout == "A\n" and "ZeroDivisionError" in repl_step.error
    assert result.trace.steps[2].output == "A" and result.trace.steps[2].prompt_summary == "q1"
    # Every token the run spent is on exactly one step.
    assert result.trace.tokens == result.usage_summary.total_tokens > 0
    assert result.metadata is None  # no logger: nothing else changes for the caller


def test_trace_is_the_log(env_name, tmp_path):
    logger = RLMLogger(log_dir=tmp_path)
    rlm = scripted_rlm(env_name, [repl("x = llm_query('q1')"), "FINAL(x)"], SUB, logger=logger)
    result = rlm.completion("ctx")
    assert result.response == "A"
    assert Trace.from_log(logger.log_file_path) == result.trace
    assert Trace.from_trajectory(result.metadata) == result.trace


def test_child_runs_nest_as_sub_steps(env_name):
    root = repl("r = rlm_query('sub task')\nprint(r)")
    child = repl("print(llm_query('q2'))", "FINAL(kid)")
    rlm = scripted_rlm(env_name, [root, child, "FINAL(done)"], SUB, max_depth=2)
    result = rlm.completion("ctx")
    assert [(s.kind, s.depth) for s in result.trace.steps] == [
        ("root_call", 0),
        ("repl_exec", 0),
        ("recursive_subcall", 0),
        ("sub_root_call", 1),
        ("sub_repl_exec", 1),
        ("sub_subcall", 1),
        ("root_call", 0),
    ]
    assert result.trace.tokens == result.usage_summary.total_tokens


def test_json_round_trip_and_unknown_keys():
    trace = Trace([TraceStep(1, "root_call", tokens=5, output="hi"), TraceStep(2, "repl_exec")])
    again = Trace.from_json(trace.to_json())
    assert again == trace and again.tokens == 5
    extra = '[{"step_id": 1, "kind": "subcall", "usage": {"x": 1}, "cache_hit": false}]'
    assert Trace.from_json(extra).steps[0].kind == "subcall"  # pyrlm-runtime's extra keys


def test_a_plain_call_is_one_step():
    rlm = RLM(backend="scripted", backend_kwargs={"responses": ["hello"]}, max_depth=0)
    result = rlm.completion("say hi")
    assert [(s.kind, s.output) for s in result.trace.steps] == [("root_call", "hello")]
    assert result.trace.tokens == result.usage_summary.total_tokens
