"""Reading logs: ours as the engine really writes them (nested children included), the
reference implementation's, and broken ones. Plus the viewer's HTTP API on loopback."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from rlm import RLM
from rlm.errors import LogFormatError
from rlm.logger import RLMLogger
from rlm.viewer import LogStore, ViewerServer, read_log

FIXTURES = Path(__file__).parent / "fixtures" / "trajectories"
REFERENCE = FIXTURES / "reference-gpt4o-multiturn.jsonl"


def _model_tree():
    """Plays root and child in call order: the root delegates to a child RLM, the child asks
    a plain sub-LM (a call without a system prompt), then both finish."""
    with_system = iter(
        [
            "```repl\nprint(rlm_query('inner task'))\n```",  # root, iteration 1
            "```repl\nprint(llm_query('leaf question'))\n```",  # child, iteration 1
            "FINAL(from the child)",  # child, iteration 2
            "FINAL(root done)",  # root, iteration 2
        ]
    )

    def model(messages):
        if messages[0]["role"] != "system":
            return "leaf answer"
        return next(with_system)

    return model


def test_engine_log_with_a_child_trajectory(tmp_path):
    logger = RLMLogger(log_dir=tmp_path)
    with RLM(
        backend="function",
        environment="local",
        backend_kwargs={"function": _model_tree()},
        max_depth=2,
        max_iterations=4,
        logger=logger,
    ) as rlm:
        result = rlm.completion("some context", root_prompt="outer question")
    assert result.response == "root done"
    (run,) = read_log(logger.log_file_path)
    summary = run.summary()
    assert summary["prompt"] == "outer question"
    assert summary["final_answer"] == "root done"
    assert summary["subcalls"] == 1
    assert summary["input_tokens"] == result.usage_summary.total_input_tokens
    (call,) = run.iterations[0]["code_blocks"][0]["result"]["rlm_calls"]
    child = call["metadata"]
    assert child["run_metadata"]["depth"] == 1
    (leaf,) = child["iterations"][0]["code_blocks"][0]["result"]["rlm_calls"]
    assert (leaf["prompt"], leaf["response"]) == ("leaf question", "leaf answer")


def test_reference_log_splits_into_one_run_per_completion():
    runs = read_log(REFERENCE)
    assert [len(r.iterations) for r in runs] == [4, 3, 3, 1, 3, 3]
    assert runs[5].prompt().startswith("Read the value of x from the repl.")
    assert all(r.metadata["root_model"] == "gpt-4o" for r in runs)
    assert runs[1].summary()["final_answer"] == "15"


def test_in_memory_trajectory_json_is_a_run(tmp_path):
    source = read_log(FIXTURES / "nested-subcalls.jsonl")[0]
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"run_metadata": source.metadata, "iterations": source.iterations}))
    (run,) = read_log(path)
    assert run.summary()["subcalls"] == 2


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\x00\x01\x02", "binary data"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b'{"type": "metadata", "a": 1}\nnope\n{"type": "iteration"}\n', ":2: not valid JSON"),
        (b'"just a string"\n', "expected a JSON object"),
        (b'{"type": "other"}\n', "no trajectory in it"),
    ],
)
def test_bad_logs_raise_log_format_error(tmp_path, raw, message):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(raw)
    with pytest.raises(LogFormatError, match=message):
        read_log(path)


def test_store_skips_bad_files_and_names_them(tmp_path):
    (tmp_path / "good.jsonl").write_bytes((FIXTURES / "nested-subcalls.jsonl").read_bytes())
    (tmp_path / "bad.jsonl").write_text("{")
    (tmp_path / "notes.txt").write_text("ignored: not a log suffix")
    (tmp_path / "starting.jsonl").write_text("")  # opened, nothing written yet: not an error
    store = LogStore(tmp_path)
    assert [r.id for r in store.runs()] == ["good.jsonl"]
    assert list(store.errors) == ["bad.jsonl"]


@pytest.fixture
def server(tmp_path):
    (tmp_path / "a.jsonl").write_bytes((FIXTURES / "nested-subcalls.jsonl").read_bytes())
    with ViewerServer(tmp_path).start() as srv:
        yield srv


def test_api_and_static_assets(server):
    for name, kind in (("", "text/html"), ("app.js", "javascript"), ("style.css", "text/css")):
        with urllib.request.urlopen(server.url + name, timeout=5) as res:
            assert kind in res.headers["Content-Type"]
            assert "script-src 'self'" in res.headers["Content-Security-Policy"]
            assert res.read()
    runs = json.load(urllib.request.urlopen(server.url + "api/runs", timeout=5))
    assert [r["id"] for r in runs["runs"]] == ["a.jsonl"]
    run = json.load(urllib.request.urlopen(server.url + "api/run?id=a.jsonl", timeout=5))
    assert len(run["iterations"]) == 4
    none = json.load(urllib.request.urlopen(server.url + "api/runs?q=zzz-no-such-text", timeout=5))
    assert none["runs"] == []


@pytest.mark.parametrize(
    "path", ["/api/run?id=../../etc/passwd", "/api/run?id=nope", "/etc/passwd", "/../a.jsonl"]
)
def test_nothing_outside_the_runs_is_served(server, path):
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(server.url.rstrip("/") + path, timeout=5)
    assert info.value.code == 404


def test_foreign_host_header_is_refused(server):
    """A DNS-rebinding page would arrive with its own host name."""
    port = server.httpd.server_address[1]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/api/runs", headers={"Host": f"evil.example:{port}"})
    assert conn.getresponse().status == 403
    conn.close()


def test_store_sees_a_run_grow_while_it_is_written(tmp_path):
    lines = (FIXTURES / "nested-subcalls.jsonl").read_text().splitlines(keepends=True)
    log = tmp_path / "live.jsonl"
    log.write_text("".join(lines[:2]))
    store = LogStore(tmp_path)
    (run,) = store.runs()
    assert len(run.iterations) == 1 and not run.summary()["finished"]
    with log.open("a") as f:
        f.writelines(lines[2:])
    (run,) = store.runs()
    assert len(run.iterations) == 4 and run.summary()["finished"]


def test_completions_appended_to_one_file_are_separate_runs(tmp_path):
    """Two of our completions in one file (metadata ... result, twice) are two runs."""
    one = (FIXTURES / "nested-subcalls.jsonl").read_text()
    log = tmp_path / "two.jsonl"
    log.write_text(one + one)
    runs = read_log(log)
    assert [len(r.iterations) for r in runs] == [4, 4]
    assert all(r.result is not None for r in runs)
