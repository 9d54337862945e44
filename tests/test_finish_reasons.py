"""How a run ends: finish reasons, answers that are not answers, loops and the finishing
guards, in both the in-process `local` environment and the `sandbox`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import last_user, repl
from env_support import ENGINE_ENVS
from rlm import RLM
from rlm.core.answers import vet
from rlm.core.parsing import find_final
from rlm.errors import TimeoutExceededError
from rlm.logger import RLMLogger

ENVS = ENGINE_ENVS


@pytest.fixture(params=ENVS)
def env(request):
    return request.param


def build(env, responses, **kwargs):
    if callable(responses):
        backend, backend_kwargs = "function", {"function": responses, "model_name": "root"}
    else:
        backend, backend_kwargs = "scripted", {"responses": responses, "model_name": "root"}
    return RLM(backend=backend, backend_kwargs=backend_kwargs, environment=env, **kwargs)


# -- finish reasons ---------------------------------------------------------------------------


def test_a_final_answer_is_final(env):
    result = build(env, [repl("n = len(context)"), "FINAL(n)"]).completion("hello")
    assert (result.response, result.finish_reason, result.answer_forced) == ("5", "final", False)


def test_out_of_iterations_is_forced(env):
    def model(messages):
        if "out of iterations" in last_user(messages):
            return "FINAL(7)"
        return repl(f"print({len(messages)})")  # new code every turn: no loop

    result = build(env, model, max_iterations=2).completion("c")
    assert (result.response, result.finish_reason, result.answer_forced) == (
        "7",
        "max_iterations",
        True,
    )


def test_no_usable_answer_at_all_is_empty(env):
    def model(messages):
        if "out of iterations" in last_user(messages):
            return "FINAL(answer)"  # the reserved dict, never set: not an answer
        return repl("x = 1")  # no output, no answer["content"]

    result = build(env, model, max_iterations=1).completion("c")
    assert (result.response, result.finish_reason) == ("", "empty")


def test_a_limit_is_recorded_in_the_log(env, tmp_path):
    def model(messages):
        return repl("import time\ntime.sleep(5)")

    logger = RLMLogger(log_dir=tmp_path)
    with pytest.raises(TimeoutExceededError):
        build(env, model, max_timeout=0.5, logger=logger).completion("c")
    lines = [json.loads(x) for x in Path(logger.log_file_path).read_text().splitlines()]
    assert lines[-1]["type"] == "result" and lines[-1]["finish_reason"] == "limit"


def test_the_log_and_the_result_carry_the_finish_reason(env, tmp_path):
    logger = RLMLogger(log_dir=tmp_path)
    result = build(env, ["FINAL(3)"], logger=logger).completion("c")
    assert result.to_dict()["finish_reason"] == "final"
    last = json.loads(Path(logger.log_file_path).read_text().splitlines()[-1])
    assert last["finish_reason"] == "final"


# -- what is not an answer --------------------------------------------------------------------


def test_final_of_the_reserved_answer_dict_is_not_an_answer(env):
    seen = []

    def model(messages):
        seen.append(last_user(messages))
        return "FINAL(answer)" if len(seen) == 1 else "FINAL(42)"

    result = build(env, model).completion("hi")
    assert result.response == "42"
    assert "is not an answer" in seen[1]


def test_final_of_the_answer_dict_means_its_content(env):
    responses = [repl('answer["content"] = "blue"'), "FINAL(answer)"]
    assert build(env, responses).completion("hi").response == "blue"


def test_final_called_in_code_with_the_empty_answer_dict_gives_no_answer(env):
    seen = []

    def model(messages):
        seen.append(last_user(messages))
        return repl("FINAL(answer)") if len(seen) == 1 else "FINAL(ok)"

    result = build(env, model).completion("hi")
    assert result.response == "ok"
    assert 'answer["content"] is empty' in seen[1]


@pytest.mark.parametrize(
    "text",
    ["FINAL(...)", "FINAL(your answer)", "Final(answer)", "FINAL(print(context))"],
)
def test_template_text_and_code_are_refused(env, text):
    result = build(env, [text, "FINAL(real)"]).completion("hi")
    assert (result.response, result.finish_reason) == ("real", "final")


def test_vet_keeps_real_answers():
    keep = ("30", "decoder.py", "json.loads", "64 * 1024", "The licence gives 30 days.")
    for text in (*keep, "7 (Disclaimer)", '"v2" (2004)'):  # not calls: nothing to run
        assert vet(text) == (text, "")
    for text in ("{'content': '', 'ready': False}", "...", "answer", "x = 1\nprint(x)"):
        assert vet(text)[0] is None
    # A reply echoing the turn prompt (seen from the 1.5B model on a real question).
    echo = 'FINAL(...)\n\nThe query to answer: "Which module defines COPY_BUFSIZE?"'
    assert vet(echo)[0] is None
    assert vet('Use FINAL(…) to answer "x"')[0] is None
    # "FINAL((60))" in prose: the template's parentheses doubled; other parentheses stay.
    assert find_final("FINAL((60))").inner == "60"
    assert find_final("FINAL((January, 2004))").inner == "January, 2004"
    assert find_final("FINAL((a) or (b))").inner == "(a) or (b)"


def test_prompts_never_tell_the_model_to_write_final_answer_literally():
    from rlm.clients.local_prompt import SMALL_MODEL_SYSTEM_PROMPT
    from rlm.core import prompts

    texts = [
        prompts.SYSTEM_PROMPT,
        prompts.NEXT_TURN,
        prompts.NO_CODE_TURN,
        prompts.BEST_ANSWER,
        prompts.FIRST_TURN,
        SMALL_MODEL_SYSTEM_PROMPT,
    ]
    assert not any("FINAL(answer)" in t for t in texts)


# -- loops -------------------------------------------------------------------------------------


def test_repeated_code_is_told_once_then_ends_early_with_the_best_answer(env):
    seen = []

    def model(messages):
        seen.append(last_user(messages))
        if "repeating itself" in seen[-1]:
            return "FINAL(best so far)"
        return repl("print('same')")

    result = build(env, model, max_iterations=30).completion("c")
    assert (result.response, result.finish_reason, result.answer_forced) == (
        "best so far",
        "loop",
        True,
    )
    warnings = [s for s in seen if "Another repeat ends the run" in s]
    assert len(warnings) == 1
    assert len(seen) == 4  # first turn, one repeat warned, one repeat stops, the best answer


def test_a_last_answer_written_as_a_code_block_of_final_is_taken(env):
    # The 1.5B model, told the run was ending, replied "```repl\nFINAL(18)\n```": code that
    # will not run, but an answer all the same (not the last output it printed).
    def model(messages):
        if "repeating itself" in last_user(messages):
            return repl("FINAL(18)")
        return repl("print(18, ['class A', 'class B'])")

    result = build(env, model).completion("c")
    assert (result.response, result.finish_reason) == ("18", "loop")


def test_the_same_error_again_counts_as_a_loop(env):
    calls = {"n": 0}

    def model(messages):
        calls["n"] += 1
        if "repeating itself" in last_user(messages):
            return "FINAL(stopped)"
        return repl(f"x{calls['n']} = undefined_name")  # different code, the same error

    result = build(env, model).completion("c")
    assert (result.response, result.finish_reason) == ("stopped", "loop")
    assert calls["n"] == 4


def test_replies_without_code_or_final_end_the_run(env):
    def model(messages):
        if "repeating itself" in last_user(messages):
            return "FINAL(gave up)"
        return "I think I should look at the data."

    result = build(env, model, invalid_response_limit=2).completion("c")
    assert (result.response, result.finish_reason) == ("gave up", "loop")


def test_a_forced_answer_prefers_the_answer_dict_over_template_text(env):
    def model(messages):
        if "repeating itself" in last_user(messages):
            return "FINAL(answer)"
        return repl('answer["content"] = "partial"\nprint(1)')

    result = build(env, model).completion("c")
    assert (result.response, result.finish_reason) == ("partial", "loop")


# -- finishing guards (pyrlm-runtime's keywords) ----------------------------------------------


def test_require_repl_before_final_refuses_an_unchecked_final(env):
    seen = []

    def model(messages):
        seen.append(last_user(messages))
        if len(seen) == 1:
            return "FINAL(guess)"
        if len(seen) == 2:
            return repl("n = len(context)")
        return "FINAL(n)"

    result = build(env, model, require_repl_before_final=True).completion("abc")
    assert result.response == "3"
    assert "no code has run yet" in seen[1]


def test_require_subcall_before_final(env):
    seen = []

    def model(messages):
        if messages[0]["role"] == "user" and len(messages) == 1:
            return "sub says hi"  # the sub-call
        seen.append(last_user(messages))
        if len(seen) == 1:
            return repl("n = len(context)") + "\nFINAL(n)"
        if len(seen) == 2:
            return repl("note = llm_query('hello')")
        return "FINAL(note)"

    result = build(env, model, require_subcall_before_final=True).completion("abc")
    assert result.response == "sub says hi"
    assert "at least one llm_query" in seen[1]


def test_fallback_code_runs_once_when_the_model_makes_no_progress(env):
    def model(messages):
        return "Thinking about it."

    result = build(
        env,
        model,
        invalid_response_limit=2,
        fallback_code="result = context.upper()",
        auto_finalize_var="result",
    ).completion("abc")
    assert (result.response, result.finish_reason) == ("ABC", "auto_finalize")


def test_auto_finalize_var_ends_the_run_when_set(env):
    responses = [repl("x = 1"), repl("done = 'yes'")]
    result = build(env, responses, auto_finalize_var="done").completion("c")
    assert (result.response, result.finish_reason) == ("yes", "auto_finalize")


def test_guard_keywords_are_checked():
    from rlm.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="invalid_response_limit"):
        RLM(backend="scripted", backend_kwargs={"responses": []}, invalid_response_limit=0)
    with pytest.raises(ConfigurationError, match="auto_finalize_var"):
        RLM(backend="scripted", backend_kwargs={"responses": []}, auto_finalize_var="a b")


def test_a_reply_of_bare_code_without_fences_runs(env):
    result = build(env, ["n = len(context)\nprint(n)", "FINAL(n)"]).completion("abcd")
    assert (result.response, result.finish_reason) == ("4", "final")


def test_a_model_call_abandoned_by_a_limit_is_told_to_stop():
    """What the embedded model relies on to stop generating (and exit cleanly) when
    max_timeout trips mid-call: the call's thread sees `cancel.current()` turn true."""
    import threading

    from rlm.clients import cancel

    stopped = threading.Event()

    def model(messages):
        should_stop = cancel.current()
        for _ in range(500):  # "generating" for up to 5 s, token by token
            if should_stop():
                stopped.set()
                return "stopped"
            threading.Event().wait(0.01)
        return "FINAL(too late)"

    rlm = RLM(backend="function", backend_kwargs={"function": model}, environment="local",
              max_timeout=0.3)  # fmt: skip
    with pytest.raises(TimeoutExceededError):
        rlm.completion("c")
    assert stopped.wait(5)
    assert not cancel.current()()  # outside a guarded call nothing asks to stop


def test_a_final_printed_as_the_last_line_of_output_is_the_answer(env):
    responses = [repl("section = 7\nprint(f'FINAL({section})')")]
    result = build(env, responses).completion("c")
    assert (result.response, result.finish_reason) == ("7", "final")


def test_a_document_line_containing_final_is_not_an_answer(env):
    responses = [repl("print('FINAL(x) is how a model answers')\nprint('more')"), "FINAL(ok)"]
    assert build(env, responses).completion("c").response == "ok"


def test_after_an_error_the_model_is_asked_to_fix_it(env):
    seen = []

    def model(messages):
        seen.append(last_user(messages))
        return repl("re.search('x', context).group()") if len(seen) == 1 else "FINAL(ok)"

    build(env, model).completion("c")
    assert "Your code failed with the error above" in seen[1]
