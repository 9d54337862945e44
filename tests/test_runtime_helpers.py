"""The runtime layer's REPL names (ctx, P, peek, ask_chunks, ...) and `rlm.Context`, in the
in-process and the sandboxed environment: same names, same answers, sub-calls through the
broker's host calls."""

from __future__ import annotations

import pytest

from env_support import EchoHost, make_env
from rlm import RLM, Context
from rlm.environments import RESERVED_NAMES
from rlm.errors import ConfigurationError
from runtime_support import RUNTIME_ENVS, env_param, repl, scripted_rlm

LICENCE = [
    {"path": "a/GPL.txt", "content": "Section 8. You may cure a violation within 30 days."},
    {"path": "b/MIT.txt", "content": "Permission is hereby granted, free of charge."},
]


@pytest.fixture(params=RUNTIME_ENVS)
def env_name(request: pytest.FixtureRequest) -> str:
    return env_param(request.param)


# -- Context on its own ------------------------------------------------------------------------
def test_context_from_documents_keeps_documents_names_and_separator():
    ctx = Context.from_documents(LICENCE, separator="\n==\n")
    assert ctx.num_documents() == 2
    assert ctx.document_names() == ["a/GPL.txt", "b/MIT.txt"]
    assert ctx.text == LICENCE[0]["content"] + "\n==\n" + LICENCE[1]["content"]
    assert ctx.document_lengths() == [len(d["content"]) for d in LICENCE]
    assert ctx.get_document(1) == LICENCE[1]["content"] and ctx.get_document(2) is None
    assert ctx.metadata() == {
        "context_type": "document_list",
        "total_length": len(ctx.text),
        "num_documents": 2,
        "document_lengths": ctx.document_lengths(),
        "document_names": ["a/GPL.txt", "b/MIT.txt"],
    }


def test_context_find_slice_chunk_and_chunk_documents():
    ctx = Context.from_text("abc abc ABC")
    assert ctx.find("abc") == [(0, 3, "abc"), (4, 7, "abc")]
    assert ctx.find("abc", case_sensitive=False, max_matches=5)[-1] == (8, 11, "ABC")
    assert ctx.find(r"[A-Z]+", regex=True) == [(8, 11, "ABC")]
    assert ctx.slice(-5, 3) == "abc" and ctx.slice(9, 2) == ""
    assert [c for _, _, c in ctx.chunk(4, overlap=1)] == ["abc ", " abc", "c AB", "BC"]
    with pytest.raises(ValueError):
        ctx.chunk(3, overlap=3)
    docs = Context.from_documents(["1", "2", "3"])
    assert docs.chunk_documents(2) == [(0, 2, ["1", "2"]), (2, 3, ["3"])]


def test_context_of_views_every_context_shape():
    assert Context.of("text").text == "text"
    assert Context.of({"k": "v", "n": 3}).documents == ("v", "3")
    assert Context.of({"k": "v"}).names == ("k",)
    assert Context.of([{"x": 1}]).documents == ('{"x": 1}',)
    one = Context.from_text("t")
    assert Context.of(one) is one
    assert repr(Context.from_text("x" * 10_000)) == "Context(string, documents=1, chars=10,000)"


def test_context_crosses_as_json_data_and_comes_back_equal():
    from rlm.environments.toolkit import from_wire, to_wire

    ctx = Context.from_documents(LICENCE, separator="|")
    data = to_wire(ctx)
    assert isinstance(data, dict) and from_wire(data) == ctx
    assert from_wire({"plain": "dict"}) == {"plain": "dict"}


def test_helper_names_are_reserved_for_tools():
    assert {"ctx", "P", "ask_chunks", "llm_batch"} <= RESERVED_NAMES
    with pytest.raises(ConfigurationError, match="reserved"):
        RLM(backend="scripted", backend_kwargs={"responses": []}, custom_tools={"ask": print})


# -- the names in a REPL -------------------------------------------------------------------------
def test_inspection_helpers_agree_in_every_environment(env_name):
    env = make_env(env_name)
    try:
        env.load_context(Context.from_documents(LICENCE, separator="\n==\n"))
        out = env.execute_code(
            "print(type(context).__name__, type(ctx).__name__, lenP(), ctx.num_documents())\n"
            "print(repr(peek(10)), repr(tail(5)))\n"
            "print(extract_after('within'), extract_after('nowhere'))\n"
            "print(ctx.find('cure'), ctx.get_document(1)[:10])"
        )
        assert out.stderr == ""
        total = len(LICENCE[0]["content"]) + 4 + len(LICENCE[1]["content"])
        assert out.stdout.splitlines() == [
            f"Context Context {total} 2",
            "'Section 8.' 'arge.'",
            "30 None",
            "[(19, 23, 'cure')] Permission",
        ]
    finally:
        env.close()


def test_plain_contexts_get_ctx_and_P_too(env_name):
    env = make_env(env_name)
    try:
        env.load_context(LICENCE)  # the CLI's directory form: a list of {path, content}
        out = env.execute_code("print(ctx.document_names(), P.count('Section'))")
        assert out.stdout == "['a/GPL.txt', 'b/MIT.txt'] 1\n", out.stderr
    finally:
        env.close()


def test_model_helpers_go_through_the_host_calls(env_name):
    host = EchoHost()
    env = make_env(env_name, host=host)
    try:
        env.load_context("alpha beta gamma")
        out = env.execute_code(
            "a = ask('which?', 'the text')\n"
            "b = llm_batch(['x', 'y', 'x'])\n"
            "c = ask_chunks('q', ctx.chunk(6))\n"
            "d = ask_chunks('q', ['one', 'two'], parallel=False)\n"
            "print(a.splitlines()[0], b, len(c), len(d))"
        )
        assert out.stdout == "echo:Question: which? ['echo:x', 'echo:y', 'echo:x'] 3 2\n"
        names = [name for name, _ in host.calls]
        # ask -> one llm_query; llm_batch -> one batch of the 2 distinct prompts; ask_chunks
        # -> one batch; parallel=False -> one llm_query per chunk. No other channel.
        assert names == [
            "llm_query",
            "llm_query_batched",
            "llm_query_batched",
            "llm_query",
            "llm_query",
        ]
        assert host.calls[1][1]["prompts"] == ["x", "y"]
        assert "Snippet:\nalpha " in host.calls[2][1]["prompts"][0]
    finally:
        env.close()


def test_helpers_come_back_after_model_code_rebinds_them(env_name):
    env = make_env(env_name)
    try:
        env.load_context("the real text")
        env.execute_code("P = 'junk'; ctx = None; peek = 5")
        out = env.execute_code("print(P, ctx.len_chars(), peek(3))")
        assert out.stdout == "the real text 13 the\n"
        assert "P" not in out.locals and "ctx" not in out.locals
    finally:
        env.close()


# -- end to end: a Context given to completion() -------------------------------------------------
def test_context_passed_to_completion_answers_in_every_environment(env_name):
    rules = [{"pattern": "Question: cure days?", "response": "30"}]
    code = (
        "hits = ctx.find('cure')\n"
        "doc = ctx.get_document(0)\n"
        "answers = ask_chunks('cure days?', ctx.chunk_documents(1))\n"
        "print(hits, answers)"
    )
    rlm = scripted_rlm(
        env_name, [repl(code), repl("FINAL(pick_first_answer(answers))")], rules=rules
    )
    result = rlm.completion(Context.from_documents(LICENCE), root_prompt="Days to cure?")
    assert result.response == "30"
    # The run's record names the Context, never its text.
    assert result.trace.steps[1].stdout.startswith("[(19, 23, 'cure')] ['30', '30']")
    assert rlm.router.root.calls[0][0]["content"].count("Context") >= 1


def test_ask_chunks_first_stops_at_the_first_answer(env_name):
    rules = [
        {"pattern": "Snippet:\nno", "response": "NO_ANSWER"},
        {"pattern": "Snippet:\nyes", "response": "found it"},
    ]
    code = "print(ask_chunks_first('where?', ['no', 'no', 'yes', 'later']))"
    rlm = scripted_rlm(env_name, [repl(code), "FINAL(done)"], rules=rules)
    result = rlm.completion("ctx")
    assert result.trace.steps[1].stdout == "found it\n"
    # 'no' is asked once (duplicates skipped), 'later' never: 2 sub-calls.
    assert len(result.trace.of_kind("subcall")) == 2
