"""The JSONL trajectory log: reference format, flushed per line, no secrets, no contexts."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import repl
from rlm import RLM
from rlm.logger import RLMLogger


def read(path):
    return [json.loads(line) for line in open(path, encoding="utf-8")]


def test_log_lines_follow_the_reference_format(tmp_path, make_rlm):
    logger = RLMLogger(tmp_path)
    rlm = make_rlm(
        [repl("x = llm_query('hi')\nprint(x)"), "FINAL(x)"], sub=lambda m: "yo", logger=logger
    )
    result = rlm.completion("the context")
    lines = read(logger.log_file_path)
    assert [entry["type"] for entry in lines] == ["metadata", "iteration", "iteration", "result"]
    meta = lines[0]
    for key in (
        "root_model",
        "max_depth",
        "max_iterations",
        "backend",
        "backend_kwargs",
        "environment_type",
        "environment_kwargs",
        "other_backends",
        "timestamp",
    ):
        assert key in meta
    first = lines[1]
    for key in (
        "iteration",
        "timestamp",
        "prompt",
        "response",
        "code_blocks",
        "final_answer",
        "iteration_time",
    ):
        assert key in first
    block = first["code_blocks"][0]
    assert block["code"] == "x = llm_query('hi')\nprint(x)"
    assert set(block["result"]) >= {"stdout", "stderr", "locals", "execution_time", "rlm_calls"}
    assert block["result"]["stdout"] == "yo\n"
    call = block["result"]["rlm_calls"][0]
    assert (call["prompt"], call["response"], call["root_model"]) == ("hi", "yo", "sub")
    assert first["usage"]["model"] == "root"
    assert lines[2]["final_answer"] == "yo"
    assert lines[3]["response"] == "yo"
    assert result.metadata["iterations"][1]["final_answer"] == "yo"
    assert result.metadata["run_metadata"]["root_model"] == "root"


def test_each_line_is_flushed_as_it_is_written(tmp_path):
    logger = RLMLogger(tmp_path)
    seen_on_disk = []

    def model(messages):
        if logger.log_file_path:
            seen_on_disk.append(len(read(logger.log_file_path)))
        return repl("x = 1") if len(seen_on_disk) < 3 else "FINAL(x)"

    RLM(
        backend="function", backend_kwargs={"function": model}, environment="local", logger=logger
    ).completion("c")
    assert seen_on_disk == [1, 2, 3]  # metadata, then one more iteration line per turn


def test_no_api_keys_in_logs(tmp_path):
    logger = RLMLogger(tmp_path)
    RLM(
        backend="scripted",
        backend_kwargs={"responses": ["FINAL(1)"], "api_key": "sk-SECRET123"},
        environment="local",
        logger=logger,
    ).completion("c")
    text = Path(logger.log_file_path).read_text()
    assert "SECRET" not in text
    assert '"api_key": "***"' in text


def test_large_context_never_dumped_into_locals_or_prompts(tmp_path, make_rlm):
    logger = RLMLogger(tmp_path)
    context = "needle " * 200_000  # 1.4 MB
    make_rlm([repl("copy = context\nprint(len(copy))"), "FINAL(done)"], logger=logger).completion(
        context
    )
    text = Path(logger.log_file_path).read_text()
    assert len(text) < 50_000
    entry = read(logger.log_file_path)[1]
    assert "len=1400000" in entry["code_blocks"][0]["result"]["locals"]["copy"]


def test_child_trajectories_are_nested_in_the_log(tmp_path):
    def model(messages):
        if "prompt becomes its `context`" in messages[0]["content"]:
            return repl("FINAL(rlm_query('sub-question'))")
        return repl("FINAL('child:' + context)")

    logger = RLMLogger(tmp_path)
    RLM(
        backend="function",
        backend_kwargs={"function": model},
        environment="local",
        max_depth=2,
        logger=logger,
    ).completion("c")
    lines = read(logger.log_file_path)
    call = lines[1]["code_blocks"][0]["result"]["rlm_calls"][0]
    assert call["response"] == "child:sub-question"
    child = call["metadata"]
    assert child["run_metadata"]["depth"] == 1
    assert child["iterations"][0]["final_answer"] == "child:sub-question"


def test_in_memory_logger_and_get_trajectory(make_rlm):
    logger = RLMLogger()
    result = make_rlm(["FINAL(1)"], logger=logger).completion("c")
    assert logger.log_file_path is None
    assert logger.get_trajectory()["iterations"][0]["final_answer"] == "1"
    assert result.metadata == logger.get_trajectory()


def test_failed_run_still_logs_its_result_line(tmp_path, make_rlm):
    import pytest

    from rlm.errors import ScriptExhaustedError

    logger = RLMLogger(tmp_path)
    with pytest.raises(ScriptExhaustedError):
        make_rlm([repl("x = 1")], logger=logger).completion("c")
    lines = read(logger.log_file_path)
    assert lines[-1]["type"] == "result" and "ScriptExhaustedError" in lines[-1]["error"]


def test_verbose_prints_a_rich_view_to_stderr(capsys, make_rlm):
    make_rlm([repl("print('visible output')"), "FINAL(shown)"], verbose=True).completion("c")
    err = capsys.readouterr().err
    assert "visible output" in err and "final answer" in err and "shown" in err


def test_plain_call_at_max_depth_zero_is_logged_too(tmp_path, make_rlm):
    logger = RLMLogger(tmp_path)
    result = make_rlm(["plain"], max_depth=0, logger=logger).completion("q")
    lines = read(logger.log_file_path)
    assert [entry["type"] for entry in lines] == ["metadata", "result"]
    assert lines[1]["response"] == "plain" and result.metadata["result"]["response"] == "plain"
