"""The completion loop end to end, with models played by scripted/function backends."""

from __future__ import annotations

import itertools

import pytest

from conftest import last_user, repl
from rlm import RLM
from rlm.clients import BaseLM
from rlm.core.types import CallUsage, LMResponse
from rlm.errors import ConfigurationError, ScriptExhaustedError


def test_final_in_prose_ends_the_run(make_rlm):
    result = make_rlm(["FINAL(42)"]).completion("ctx")
    assert result.response == "42"
    assert result.usage_summary.model_usage_summaries["root"].total_calls == 1
    assert result.execution_time > 0


def test_code_runs_and_output_is_fed_back(make_rlm):
    seen = []

    def model(messages):
        seen.append(last_user(messages))
        if len(seen) == 1:
            return repl("print(context.upper())")
        return "FINAL(done)"

    result = make_rlm(model).completion("hello")
    assert result.response == "done"
    assert "HELLO" in seen[1]


def test_final_of_a_bound_name_returns_the_value(make_rlm):
    result = make_rlm([repl("total = 6 * 7"), "FINAL(total)"]).completion("x")
    assert result.response == "42"


def test_final_of_unbound_identifier_is_literal_text(make_rlm):
    assert make_rlm(["FINAL(Paris)"]).completion("x").response == "Paris"


def test_final_string_literal_is_unquoted(make_rlm):
    assert make_rlm(['FINAL("Blue")']).completion("x").response == "Blue"


def test_final_var_returns_value_never_name(make_rlm):
    result = make_rlm([repl("res = 'the value'"), "FINAL_VAR(res)"]).completion("x")
    assert result.response == "the value"
    result = make_rlm([repl("res = [1, 2]"), 'FINAL_VAR("res")']).completion("x")
    assert result.response == "[1, 2]"


def test_final_var_missing_variable_does_not_end_and_model_is_told(make_rlm):
    seen = []

    def model(messages):
        seen.append(last_user(messages))
        return "FINAL_VAR(nope)" if len(seen) == 1 else "FINAL(ok)"

    assert make_rlm(model).completion("x").response == "ok"
    assert "no REPL variable 'nope'" in seen[1]


def test_final_called_in_code(make_rlm):
    result = make_rlm([repl("x = 5\nFINAL(x * 2)")]).completion("c")
    assert result.response == "10"


def test_final_var_called_in_code(make_rlm):
    result = make_rlm([repl("y = 'abc'\nFINAL_VAR('y')")]).completion("c")
    assert result.response == "abc"


def test_final_in_code_is_seen_after_all_blocks_ran(make_rlm):
    text = repl("a = 1\nFINAL(a)") + repl("a = 2\nprint('second ran')")
    rlm = make_rlm([text])
    result = rlm.completion("c")
    assert result.response == "1"


def test_prose_final_after_code_sees_code_results(make_rlm):
    result = make_rlm([repl("answer_value = 3 + 4") + "FINAL_VAR(answer_value)"]).completion("c")
    assert result.response == "7"


def test_answer_dict_ready(make_rlm):
    code = "answer['content'] = 'built up'\nanswer['ready'] = True"
    assert make_rlm([repl(code)]).completion("c").response == "built up"


def test_answer_dict_rebound_by_model_still_counts(make_rlm):
    code = "answer = {'content': 'rebound', 'ready': True}"
    assert make_rlm([repl(code)]).completion("c").response == "rebound"


def test_out_of_iterations_asks_for_best_answer(make_rlm):
    seen = []

    def model(messages):
        seen.append(last_user(messages))
        if "out of iterations" in seen[-1]:
            return "My best guess:\nFINAL(guess)"
        return repl("print(1)")

    result = make_rlm(model, max_iterations=3).completion("c")
    assert result.response == "guess"
    assert len(seen) == 4


def test_best_answer_without_final_uses_text(make_rlm):
    responses = [repl("x = 1"), "It is probably 3."]
    assert make_rlm(responses, max_iterations=1).completion("c").response == "It is probably 3."


def test_max_depth_zero_is_a_plain_call(make_rlm):
    seen = []

    def model(messages):
        seen.append(messages)
        return "plain answer"

    result = make_rlm(model, max_depth=0).completion("What is 2+2?")
    assert result.response == "plain answer"
    assert seen == [[{"role": "user", "content": "What is 2+2?"}]]


def test_errors_in_model_code_are_data(make_rlm):
    seen = []

    def model(messages):
        seen.append(last_user(messages))
        return repl("x = 1\nraise ValueError('boom')") if len(seen) == 1 else "FINAL(x)"

    result = make_rlm(model).completion("c")
    assert result.response == "1"  # x survived the exception
    assert "ValueError: boom" in seen[1]


def test_syntax_error_is_data(make_rlm):
    seen = []

    def model(messages):
        seen.append(last_user(messages))
        return repl("def (:") if len(seen) == 1 else "FINAL(ok)"

    assert make_rlm(model).completion("c").response == "ok"
    assert "SyntaxError" in seen[1]


def test_reply_without_code_or_final_gets_a_nudge(make_rlm):
    seen = []

    def model(messages):
        seen.append(last_user(messages))
        return "Let me think." if len(seen) == 1 else "FINAL(x)"

    make_rlm(model).completion("c")
    assert "ran no code" in seen[1]


def test_output_truncated_per_block_with_dropped_count(make_rlm):
    seen = []

    def model(messages):
        seen.append(last_user(messages))
        return repl("print('a' * 5000)") if len(seen) == 1 else "FINAL(x)"

    make_rlm(model, output_limit=1000).completion("c")
    assert "a" * 1000 in seen[1] and "a" * 1001 not in seen[1]
    assert "characters of output dropped" in seen[1]
    assert "4,000 characters" in seen[1]  # 5000 printed, 1000 kept


def test_several_blocks_run_in_order_and_each_is_reported(make_rlm):
    seen = []

    def model(messages):
        seen.append(last_user(messages))
        if len(seen) == 1:
            return repl("order = ['a']") + "and\n" + repl("order.append('b')\nprint(order)")
        return "FINAL(order)"

    result = make_rlm(model).completion("c")
    assert result.response == "['a', 'b']"
    assert "block 1 of 2" in seen[1] and "block 2 of 2" in seen[1]


def test_system_prompt_states_context_type_size_and_chunks(make_rlm):
    seen = []

    def model(messages):
        seen.append(messages)
        return "FINAL(x)"

    make_rlm(model).completion(["aaaa", "bb", "c"])
    system = seen[0][0]
    assert system["role"] == "system"
    assert "list of 3 strings" in system["content"]
    assert "7 characters" in system["content"]
    assert "4, 2, 1" in system["content"]


def test_root_prompt_shown_every_turn(make_rlm):
    seen = []

    def model(messages):
        seen.append(last_user(messages))
        return repl("x=1") if len(seen) < 3 else "FINAL(x)"

    make_rlm(model).completion("ctx", root_prompt="How many cats?")
    assert all("How many cats?" in s for s in seen)


def test_context_as_given_dict_and_list(make_rlm):
    result = make_rlm([repl("FINAL(type(context).__name__ + str(context['k']))")]).completion(
        {"k": [1, 2]}
    )
    assert result.response == "dict[1, 2]"


def test_reserved_names_restored_after_overwrite(make_rlm):
    code1 = "context = 'mine'\nllm_query = None\nFINAL_VAR = 3"
    code2 = "FINAL(context + str(callable(llm_query)))"
    assert make_rlm([repl(code1), repl(code2)]).completion("orig").response == "origTrue"


def test_llm_query_routes_to_other_backend_and_batched_keeps_order(make_rlm):
    code = (
        "r = llm_query('one')\nb = llm_query_batched(['x', 'y', 'z'])\nFINAL(r + '|' + ','.join(b))"
    )
    result = make_rlm([repl(code)], sub=lambda m: m[-1]["content"].upper()).completion("c")
    assert result.response == "ONE|X,Y,Z"
    usage = result.usage_summary.model_usage_summaries
    assert usage["sub"].total_calls == 4 and usage["root"].total_calls == 1


def test_sub_call_prompt_is_one_user_message_without_system(make_rlm):
    seen = []

    def sub(messages):
        seen.append(messages)
        return "ok"

    make_rlm([repl("llm_query('plain')\nFINAL(1)")], sub=sub).completion("c")
    assert seen == [[{"role": "user", "content": "plain"}]]


def test_model_keyword_picks_a_client_by_name(make_rlm):
    code = "FINAL(llm_query('q', model='big') + llm_query('q', model='small'))"
    rlm = make_rlm(
        [repl(code)],
        other_backends=["function", "function"],
        other_backend_kwargs=[
            {"function": lambda m: "S", "model_name": "small"},
            {"function": lambda m: "B", "model_name": "big"},
        ],
    )
    assert rlm.completion("c").response == "BS"


def test_unknown_model_name_is_an_error_for_the_model(make_rlm):
    seen = []

    def model(messages):
        seen.append(last_user(messages))
        return repl("llm_query('q', model='nope')") if len(seen) == 1 else "FINAL(x)"

    make_rlm(model, sub=lambda m: "s").completion("c")
    assert "unknown model 'nope'" in seen[1]


def test_batched_failure_stays_in_its_slot(make_rlm):
    def sub(messages):
        if messages[-1]["content"] == "bad":
            raise ScriptExhaustedError("simulated failure")
        return "fine"

    code = "out = llm_query_batched(['a', 'bad', 'c'])\nFINAL(out)"
    result = make_rlm([repl(code)], sub=sub).completion("c")
    assert result.response.startswith("['fine', 'Error: ScriptExhaustedError: simulated failure'")
    assert result.response.endswith("'fine']")


def test_sampling_args_reach_root_and_sub_calls(make_rlm):
    root_seen, sub_seen = [], []

    def root(messages, sampling):
        root_seen.append(sampling)
        return repl("llm_query('q')\nFINAL(1)")

    def sub(messages, sampling):
        sub_seen.append(sampling)
        return "s"

    make_rlm(
        root, sub=sub, sampling_args={"temperature": 0.1}, sub_sampling_args={"temperature": 0.9}
    ).completion("c")
    assert root_seen[0]["temperature"] == 0.1 and sub_seen[0]["temperature"] == 0.9


def test_custom_tools_callables_data_and_descriptions(make_rlm):
    seen = []

    def model(messages):
        seen.append(messages)
        return repl("FINAL(add(2, 3) * factor)")

    tools = {"add": {"tool": lambda a, b: a + b, "description": "adds two numbers"}, "factor": 10}
    assert make_rlm(model, custom_tools=tools).completion("c").response == "50"
    system = seen[0][0]["content"]
    assert "`add`: custom function: adds two numbers" in system
    assert "`factor`: custom value (int)" in system


@pytest.mark.parametrize("name", ["llm_query", "context", "FINAL", "answer", "context_3", "1bad"])
def test_reserved_or_invalid_tool_names_are_refused(make_rlm, name):
    with pytest.raises(ConfigurationError, match=name):
        make_rlm(["FINAL(1)"], custom_tools={name: 1})


def test_unknown_backend_and_environment_list_registered_names():
    with pytest.raises(ConfigurationError, match="scripted"):
        RLM(backend="nonsense")
    with pytest.raises(ConfigurationError, match="local"):
        RLM(backend="scripted", backend_kwargs={"responses": []}, environment="nowhere")


def test_bad_context_type_and_bytes_are_clear_errors(make_rlm):
    rlm = make_rlm(["FINAL(1)"])
    with pytest.raises(ConfigurationError, match="decode"):
        rlm.completion(b"\x00\x01")
    with pytest.raises(ConfigurationError, match="str, dict or list"):
        rlm.completion(3.5)


def test_scripted_backend_running_out_is_a_clear_error(make_rlm):
    with pytest.raises(ScriptExhaustedError, match="ran out of responses"):
        make_rlm([repl("x = 1")]).completion("c")


def test_callbacks_are_all_fired(make_rlm):
    events = []
    rlm = make_rlm(
        [repl("llm_query('a')"), "FINAL(1)"],
        sub=lambda m: "s",
        on_iteration_start=lambda d, i: events.append(("it_start", d, i)),
        on_iteration_complete=lambda d, i, t: events.append(("it_done", d, i)),
        on_subcall_start=lambda d, m, p: events.append(("sub_start", d, m, p)),
        on_subcall_complete=lambda d, m, t, e: events.append(("sub_done", d, m, e)),
    )
    rlm.completion("c")
    assert events == [
        ("it_start", 0, 1),
        ("sub_start", 1, "sub", "a"),
        ("sub_done", 1, "sub", None),
        ("it_done", 0, 1),
        ("it_start", 0, 2),
        ("it_done", 0, 2),
    ]


def test_a_raising_callback_does_not_break_the_run(make_rlm, caplog):
    def bad(*args):
        raise RuntimeError("callback bug")

    result = make_rlm(["FINAL(1)"], on_iteration_start=bad).completion("c")
    assert result.response == "1"
    assert "CallbackObserver.iteration_started raised" in caplog.text


def test_base_lm_instance_as_backend_with_exact_usage():
    class Exact(BaseLM):
        def complete(self, prompt, **sampling):
            return LMResponse("FINAL(7)", self.record(CallUsage("exact-1", 100, 5, 0.25)))

    result = RLM(backend=Exact(model_name="exact-1"), environment="local").completion("c")
    summary = result.usage_summary.model_usage_summaries["exact-1"]
    assert (summary.total_input_tokens, summary.total_output_tokens, summary.total_cost) == (
        100,
        5,
        0.25,
    )
    assert result.usage_summary.total_cost == 0.25


def test_reference_style_client_subclass_still_works():
    class Legacy(BaseLM):
        def completion(self, prompt):
            return "FINAL(legacy)"

    assert RLM(backend=Legacy(model_name="old"), environment="local").completion("c").response == (
        "legacy"
    )


def test_persistent_mode_keeps_state_and_numbers_contexts(make_rlm):
    responses = [
        repl("x = 500"),
        "FINAL(set)",
        repl("FINAL(str(x * 2) + context_0 + context_1 + context + str(len(history_0)))"),
    ]
    rlm = make_rlm(responses, persistent=True)
    assert rlm.completion("A").response == "set"
    second = rlm.completion("B")
    # history_0 holds the first turn's messages: system, user, assistant, user, assistant.
    assert second.response == "1000ABA5"
    rlm.close()


def test_compaction_summarises_and_keeps_full_history_in_repl():
    calls = []

    class Windowed(BaseLM):
        context_window = 1000

        def complete(self, prompt, **sampling):
            calls.append(prompt)
            last = prompt[-1]["content"]
            if "Summarise it for yourself" in last:
                text = "SUMMARY: x is set"
            elif len(calls) == 1:
                text = repl("x = 1")
            else:
                text = repl("FINAL(len(history))")
            return LMResponse(text, self.record(CallUsage("w", 900, 10)))

    rlm = RLM(backend=Windowed(model_name="w"), environment="local", compaction=True)
    result = rlm.completion("c")
    assert any("Summarise it for yourself" in c[-1]["content"] for c in calls)
    after = calls[-1]
    assert after[2]["content"] == "SUMMARY: x is set"
    # history kept every message (system, user, assistant, user) although the prompt shrank.
    assert int(result.response) >= 4


def test_acompletion():
    import asyncio

    rlm = RLM(
        backend="scripted", backend_kwargs={"responses": ["FINAL(async)"]}, environment="local"
    )
    assert asyncio.run(rlm.acompletion("c")).response == "async"


def test_default_environment_is_the_sandbox():
    rlm = RLM(
        backend="scripted", backend_kwargs={"responses": [repl("import os\nFINAL(os.getcwd())")]}
    )
    assert rlm.config.environment == "sandbox"
    answer = rlm.completion("c").response
    assert answer != __import__("os").getcwd()  # the worker runs in its own private temp dir


def test_a_client_may_bring_its_preferred_system_prompt():
    seen = []

    class Small(BaseLM):
        preferred_system_prompt = "SHORT RECIPE. The text: {context_description}"

        def complete(self, prompt, **sampling):
            seen.append(prompt)
            return LMResponse("FINAL(1)", self.record(CallUsage("small")))

    RLM(backend=Small(model_name="small"), environment="local").completion("abc")
    assert seen[0][0]["content"] == "SHORT RECIPE. The text: one string of 3 characters (1 line)."
    seen.clear()
    RLM(
        backend=Small(model_name="small"), environment="local", custom_system_prompt="MINE"
    ).completion("abc")
    assert seen[0][0]["content"].startswith("MINE")


def test_best_answer_that_is_only_code_falls_back_to_the_last_output(make_rlm):
    code_only = repl("print('The secret code is 4711.')")
    result = make_rlm([code_only, code_only], max_iterations=1).completion("c")
    assert result.response == "The secret code is 4711."


def test_last_feedback_asks_for_the_best_answer_in_the_same_user_turn(make_rlm):
    seen = []

    def model(messages):
        seen.append(messages)
        return repl("print(1)") if len(seen) < 3 else "FINAL(x)"

    make_rlm(model, max_iterations=2).completion("c")
    roles = [m["role"] for m in seen[-1]]
    assert all(a != b for a, b in itertools.pairwise(roles[1:]))  # alternating
    assert "out of iterations" in seen[-1][-1]["content"]
