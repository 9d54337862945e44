"""`rlm batch` and `rlm.batch.run`: the same output on local processes and on Ray, resume,
per-task settings, errors on their own line. Models are scripted per task."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cli_support import isolate_cli
from rlm import batch
from rlm.batch import BatchInputError

SRC = str(Path(__file__).resolve().parents[1] / "src")
# Comparable part of an output line: everything but wall time and log location.
STABLE = ("id", "response", "finish_reason", "usage", "error")


def scripted_task(i: int) -> dict:
    """A task whose scripted model reads the context in the REPL and answers from it."""
    code = "```repl\nn = f'{len(context)}:{context[:4]}:' + str(sum(map(ord, context)) % 97)\n```"
    return {
        "id": f"task-{i:03d}",
        "query": "Describe the context.",
        "context": f"doc{i} " * (i + 1),
        "settings": {"backend_kwargs": {"responses": [code, "FINAL_VAR(n)"]}},
    }


def write_tasks(path: Path, tasks: list[dict]) -> Path:
    path.write_text("".join(json.dumps(t) + "\n" for t in tasks), encoding="utf-8")
    return path


def run_cli(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("RLM_") or k == "RLM_BLOCK_REAL_REQUESTS"
    }
    env.update(PYTHONPATH=SRC, XDG_CONFIG_HOME=str(tmp_path / "cfg"), XDG_DATA_HOME=str(tmp_path / "data"),
               RAY_DISABLE_USAGE_STATS="1")  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "rlm.cli.main", "batch", *args],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip


def stable(path: Path) -> dict[str, dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return {r["id"]: {k: r.get(k) for k in STABLE} for r in rows}


def test_fifty_tasks_same_output_on_local_and_ray_and_a_rerun_skips_them(tmp_path):
    tasks = write_tasks(tmp_path / "tasks.jsonl", [scripted_task(i) for i in range(50)])
    common = ["--backend", "scripted", "-e", "local", "--no-log", "-q"]
    local_out = tmp_path / "local.jsonl"
    done = run_cli([str(tasks), "-o", str(local_out), "--workers", "2", *common], tmp_path)
    assert done.returncode == 0, done.stderr
    local = stable(local_out)
    assert len(local) == 50
    assert (
        local["task-007"]["response"]
        == f"{len('doc7 ' * 8)}:doc7:{sum(map(ord, 'doc7 ' * 8)) % 97}"
    )
    assert all(r["finish_reason"] == "final" and r["error"] is None for r in local.values())
    assert local["task-007"]["usage"]["model_usage_summaries"]["scripted"]["total_calls"] == 2

    rerun = run_cli([str(tasks), "-o", str(local_out), *common], tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert "50 skipped" in rerun.stderr
    assert len(local_out.read_text().splitlines()) == 50  # nothing appended

    if importlib.util.find_spec("ray") is None:
        pytest.skip("ray is not installed (pip install 'rlm[ray]'); the local half passed")
    ray_out = tmp_path / "ray.jsonl"
    on_ray = run_cli([str(tasks), "-o", str(ray_out), "--engine", "ray", "--ray-num-cpus", "2",
                      "--task-cpus", "0.5", *common], tmp_path)  # fmt: skip
    assert on_ray.returncode == 0, on_ray.stderr
    assert stable(ray_out) == local
    # A rerun on Ray finds nothing to do and never starts a runtime.
    again = run_cli([str(tasks), "-o", str(ray_out), "--engine", "ray", *common], tmp_path)
    assert again.returncode == 0 and "50 skipped" in again.stderr


def answer_with_query(messages):
    """Plays the root model: answers with the task's query (shown in the last user turn)."""
    return "FINAL(" + re.search(r"ASK:(\w+)", messages[-1]["content"]).group(1) + ")"


def test_python_api_resumes_and_reports_each_failure_on_its_line(tmp_path):
    out = tmp_path / "out.jsonl"
    tasks = [{"id": i, "query": f"ASK:q{i}", "context": "c"} for i in range(4)]
    tasks.append({"id": "bad", "query": "ASK:x", "context": "c",
                  "settings": {"max_iterations": 0}})  # fmt: skip
    # A finished line from an earlier, interrupted run, and a torn last line.
    out.write_text(
        json.dumps({"id": "0", "response": "old", "error": None}) + '\n{"id": "1", "resp'
    )
    report = batch.run(tasks, out, workers=2, backend="function", environment="local",
                       backend_kwargs={"function": answer_with_query})  # fmt: skip
    assert report.skipped == 1
    by_id = {line["id"]: line for line in report.results}
    assert sorted(by_id) == ["1", "2", "3", "bad"]
    assert by_id["2"]["response"] == "q2"
    assert by_id["bad"]["error_type"] == "ConfigurationError"
    assert "max_iterations" in by_id["bad"]["error"]
    assert report.failed == 1 and report.completed == 3
    # Only the failed id runs again with retry_errors.
    again = batch.run(tasks, out, workers=1, retry_errors=True, backend="function",
                      environment="local", backend_kwargs={"function": answer_with_query})  # fmt: skip
    assert [line["id"] for line in again.results] == ["bad"]


def test_context_path_is_read_relative_to_the_input_file_and_logs_are_written(
    tmp_path, monkeypatch
):
    isolate_cli(tmp_path, monkeypatch)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("needle in a file")
    tasks = write_tasks(tmp_path / "tasks.jsonl", [{
        "id": "p", "query": "find", "context_path": "docs/a.txt",
        "settings": {"backend_kwargs": {"responses": ["```repl\nx = context.split()[0]\n```",
                                                        "FINAL_VAR(x)"]}},
    }])  # fmt: skip
    out = tmp_path / "out.jsonl"
    done = run_cli([str(tasks), "-o", str(out), "-b", "scripted", "-e", "sandbox", "-q",
                    "--log-dir", str(tmp_path / "logs")], tmp_path)  # fmt: skip
    line = json.loads(out.read_text())
    if "SandboxUnavailableError" in str(line.get("error_type")):
        pytest.skip(f"the sandbox cannot run here: {line['error']}")
    assert done.returncode == 0, done.stderr
    assert line["response"] == "needle"
    assert Path(line["log_path"]).name.startswith("batch-p_")
    first = json.loads(Path(line["log_path"]).read_text().splitlines()[0])
    assert first["type"] == "metadata"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ({"query": "q", "context": "c"}, "'id'"),
        ({"id": "a", "query": "", "context": "c"}, "'query'"),
        ({"id": "a", "query": "q", "context": "c", "context_path": "x"}, "not both"),
        ({"id": "a", "query": "q", "settings": {"logger": 1}}, "cannot be set per task"),
        ({"id": "a", "query": "q", "max_iterations": 3}, "inside 'settings'"),
    ],
)
def test_bad_task_lines_are_refused_with_the_line_number(tmp_path, line, message):
    path = write_tasks(tmp_path / "t.jsonl", [{"id": "ok", "query": "q"}, line])
    with pytest.raises(BatchInputError, match=message) as info:
        batch.read_tasks(path)
    assert "t.jsonl:2" in str(info.value)


def test_duplicate_ids_are_refused(tmp_path):
    with pytest.raises(BatchInputError, match="twice"):
        batch.run([{"id": "a", "query": "q"}, {"id": "a", "query": "r"}], backend="scripted")
