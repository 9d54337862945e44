"""rlm_query children, depth routing, tree-wide usage, and real parallelism."""

from __future__ import annotations

import threading
import time

from conftest import repl
from rlm import RLM
from rlm.logger import RLMLogger


def test_rlm_query_spawns_child_with_own_repl_at_depth_plus_one():
    depths = []

    def model(messages):
        system = messages[0]["content"]
        if "prompt becomes its `context`" in system and len(messages) == 2:  # depth 0
            return repl("r = rlm_query('child-task')\nFINAL(r)")
        # depth 1: a child RLM; its context is the prompt it was given
        depths.append(1)
        return repl("FINAL('child saw ' + context)")

    rlm = RLM(
        backend="function", backend_kwargs={"function": model}, environment="local", max_depth=2
    )
    result = rlm.completion("root context")
    assert result.response == "child saw child-task"
    assert depths == [1]


def test_rlm_query_at_max_depth_is_plain_llm_call(make_rlm):
    code = "FINAL(rlm_query('hello'))"
    result = make_rlm([repl(code)], sub=lambda m: "plain:" + m[-1]["content"]).completion("c")
    assert result.response == "plain:hello"


def test_child_usage_counts_in_root_summary_and_trajectory_nests_children():
    def root(messages):
        if len(messages) == 2:
            return repl("outs = rlm_query_batched(['a', 'b'])\nFINAL(','.join(outs))")
        return "FINAL(unused)"

    def sub(messages):
        if messages[0]["role"] == "system":  # child root turn
            return repl("FINAL(llm_query('leaf ' + context))")
        return "leaf-answer:" + messages[-1]["content"]

    rlm = RLM(
        backend="function",
        backend_kwargs={"function": root, "model_name": "root"},
        other_backends=["function"],
        other_backend_kwargs=[{"function": sub, "model_name": "sub"}],
        environment="local",
        max_depth=2,
        logger=RLMLogger(),
    )
    result = rlm.completion("ctx")
    assert result.response == "leaf-answer:leaf a,leaf-answer:leaf b"
    usage = result.usage_summary.model_usage_summaries
    # 2 children x (1 root turn + 1 leaf llm_query) on the sub model, 1 root call.
    assert usage["sub"].total_calls == 4
    assert usage["root"].total_calls == 1
    calls = result.metadata["iterations"][0]["code_blocks"][0]["result"]["rlm_calls"]
    assert len(calls) == 2
    child = calls[0]["metadata"]
    assert child["run_metadata"]["depth"] == 1
    leaf_calls = child["iterations"][0]["code_blocks"][0]["result"]["rlm_calls"]
    assert leaf_calls[0]["response"] == "leaf-answer:leaf a"


def test_batched_sub_calls_really_run_in_parallel_and_respect_the_bound(make_rlm):
    in_flight = 0
    peak = 0
    lock = threading.Lock()

    def sub(messages):
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.05)
        with lock:
            in_flight -= 1
        return "ok"

    code = "out = llm_query_batched([str(i) for i in range(24)])\nFINAL(len(out))"
    result = make_rlm([repl(code)], sub=sub, max_concurrent_subcalls=8).completion("c")
    assert result.response == "24"
    assert peak == 8


def test_rlm_query_batched_children_run_in_parallel_and_each_captures_own_output():
    barrier = threading.Barrier(3, timeout=10)
    outputs = {}

    def model(messages):
        system = messages[0]["content"]
        if "prompt becomes its `context`" in system and len(messages) == 2:
            return repl("FINAL('|'.join(rlm_query_batched(['A', 'B', 'C'])))")
        if len(messages) == 2:
            # All three children are inside this call at once, or the barrier times out.
            barrier.wait()
            return repl("for _ in range(200): print(context, end='')")
        ctx = messages[-1]["content"]
        letter = next(ch for ch in "ABC" if ch * 200 in ctx)
        outputs[letter] = ctx
        return f"FINAL({letter})"

    rlm = RLM(
        backend="function",
        backend_kwargs={"function": model},
        environment="local",
        max_depth=2,
        max_concurrent_subcalls=3,
    )
    assert rlm.completion("root").response == "A|B|C"
    for letter, fed_back in outputs.items():
        others = set("ABC") - {letter}
        assert not any(o * 3 in fed_back for o in others), "output leaked between children"


def test_concurrent_completions_on_one_rlm_are_independent(make_rlm):
    def model(messages):
        if len(messages) == 2:
            return repl("import time; time.sleep(0.05); print(context)")
        return "FINAL(context)"

    rlm = make_rlm(model)
    results = {}

    def go(value):
        results[value] = rlm.completion(value).response

    threads = [threading.Thread(target=go, args=(v,)) for v in ("one", "two", "three")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {"one": "one", "two": "two", "three": "three"}


def test_deeper_recursion_three_levels():
    def model(messages):
        if len(messages) > 2:
            return "FINAL(unreachable)"
        system = messages[0]["content"]
        if "prompt becomes its `context`" in system:
            return repl("FINAL('(' + rlm_query(context + '>') + ')')")
        return repl("FINAL(llm_query(context + 'leaf'))")

    def leaf(messages):
        if messages[0]["role"] == "system":
            return model(messages)
        return messages[-1]["content"].upper()

    rlm = RLM(
        backend="function",
        backend_kwargs={"function": model, "model_name": "m"},
        other_backends=["function"],
        other_backend_kwargs=[{"function": leaf, "model_name": "m2"}],
        environment="local",
        max_depth=3,
    )
    assert rlm.completion("x").response == "((X>>LEAF))"
