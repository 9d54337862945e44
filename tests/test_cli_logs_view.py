"""`rlm logs`, `rlm view` and `rlm config`: click runner for the commands, a real
subprocess for the server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

import rlm
from cli_support import CLI_VARS, isolate_cli
from rlm.cli.main import main

FIXTURES = Path(__file__).parent / "fixtures" / "trajectories"


@pytest.fixture(autouse=True)
def clean_env(tmp_path, monkeypatch):
    isolate_cli(tmp_path, monkeypatch)


@pytest.fixture
def logs(tmp_path):
    directory = tmp_path / "logs"
    directory.mkdir()
    for name in ("nested-subcalls.jsonl", "reference-gpt4o-multiturn.jsonl"):
        shutil.copyfile(FIXTURES / name, directory / name)
    return directory


def invoke(args, **kw):
    return CliRunner().invoke(main, args, catch_exceptions=False, **kw)


def test_logs_path_follows_settings(tmp_path, monkeypatch):
    assert invoke(["logs", "path"]).stdout.strip() == str(tmp_path / "data" / "rlm" / "logs")
    monkeypatch.setenv("RLM_LOG_DIR", str(tmp_path / "elsewhere"))
    assert invoke(["logs", "path"]).stdout.strip() == str(tmp_path / "elsewhere")


def test_logs_list_json_and_table(logs):
    (logs / "junk.jsonl").write_text("not json\n")
    result = invoke(["logs", "list", "--log-dir", str(logs), "--json"])
    assert result.exit_code == 0
    runs = json.loads(result.stdout)
    ids = [r["id"] for r in runs]
    # Newest first; the reference file holds six completions (one per run_context line).
    assert ids[0] == "nested-subcalls.jsonl"
    assert ids[1:] == [f"reference-gpt4o-multiturn.jsonl#{n}" for n in range(6, 0, -1)]
    assert runs[0]["subcalls"] == 2 and runs[0]["input_tokens"] == 11842
    assert "skipped junk.jsonl" in result.stderr
    plain = invoke(["logs", "list", "--log-dir", str(logs), "-n", "2"]).stdout.splitlines()
    assert len(plain) == 2
    fields = plain[0].split("\t")
    assert fields[0] == "nested-subcalls.jsonl" and fields[2] == "gpt-5-mini" and fields[3] == "4"
    assert plain[1].startswith("reference-gpt4o-multiturn.jsonl#6\t")


def test_logs_show_renders_code_output_subcalls_and_children(logs):
    result = invoke(
        ["logs", "show", "nested-subcalls.jsonl", "--log-dir", str(logs)], terminal_width=160
    )
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "rlm_query('Summarise chapter 2 of the report.')" in out
    assert "No, chapter 1 is about leadership changes." in out
    assert "child RLM trajectory" in out
    assert "summary = llm_query('Summarise: ' + context[:2000])" in out
    assert "TypeError: unsupported operand" in out
    assert "Chapter 2: revenue grew 12%, driven by cloud demand." in out


def test_logs_show_by_file_and_index_and_json(logs):
    ref = str(logs / "reference-gpt4o-multiturn.jsonl")
    data = json.loads(invoke(["logs", "show", ref + "#2", "--json"]).stdout)
    assert data["run_context"]["prompt"] == "What was the number you just generated?"
    assert [it["iteration"] for it in data["iterations"]] == [5, 6, 7]
    latest = invoke(["logs", "show", "latest", "--log-dir", str(logs), "--json"])
    assert json.loads(latest.stdout)["summary"]["id"] == "nested-subcalls.jsonl"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json}\n{}\n", "bad.jsonl:1: not valid JSON"),
        ("[1, 2]\n", "expected a JSON object"),
        ("", "no trajectory in it"),
        (
            '{"type": "metadata", "root_model": "m"}\n{"type": "iteration"',
            None,
        ),  # truncated tail: readable
    ],
)
def test_bad_log_files(tmp_path, content, message):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content)
    result = invoke(["logs", "show", str(bad)])
    if message is None:
        assert result.exit_code == 0
        assert "line 2 is truncated" in result.stdout
    else:
        assert result.exit_code == 2
        assert message in result.stderr


def test_logs_show_unknown_run_and_missing_dir(tmp_path, logs):
    result = invoke(["logs", "show", "nope", "--log-dir", str(logs)])
    assert result.exit_code == 2 and "no run 'nope'" in result.stderr
    missing = invoke(["logs", "list", "--log-dir", str(tmp_path / "missing")])
    assert missing.exit_code == 2 and "does not exist" in missing.stderr


def test_view_rejects_bad_targets(tmp_path):
    bad = tmp_path / "x.jsonl"
    bad.write_bytes(b"\x00\x01")
    result = invoke(["view", str(bad), "--no-browser"])
    assert result.exit_code == 2 and "binary data" in result.stderr
    missing = invoke(["view", str(tmp_path / "nowhere"), "--no-browser"])
    assert missing.exit_code == 2 and "no such log file or directory" in missing.stderr


def test_view_serves_the_app_and_api_from_a_real_process(logs):
    env = {k: v for k, v in os.environ.items() if k not in CLI_VARS}
    env["PYTHONPATH"] = (
        str(Path(rlm.__file__).resolve().parents[1]) + os.pathsep + env.get("PYTHONPATH", "")
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "rlm.cli", "view", str(logs), "--port", "0", "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("rlm viewer: http://127.0.0.1:"), (
            line if line else proc.stderr.read()
        )
        url = line.split()[2]
        page = urllib.request.urlopen(url, timeout=10).read().decode()
        assert '<script src="/app.js">' in page
        runs = json.load(urllib.request.urlopen(url + "api/runs?q=leadership", timeout=10))
        assert [r["id"] for r in runs["runs"]] == ["nested-subcalls.jsonl"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_config_show_and_path(tmp_path, monkeypatch):
    cfg = tmp_path / "config" / "rlm" / "config.toml"
    assert invoke(["config", "path"]).stdout.strip() == str(cfg)
    cfg.parent.mkdir(parents=True)
    cfg.write_text('backend = "scripted"\nmax_depth = 2\n')
    monkeypatch.setenv("RLM_MAX_DEPTH", "3")
    out = invoke(["config", "show"]).stdout
    assert "max_depth = 3  (RLM_MAX_DEPTH)" in out
    assert f'backend = "scripted"  (config file {cfg})' in out


@pytest.mark.parametrize(
    ("toml", "env", "message"),
    [
        ("bakend = 'x'\n", {}, "unknown setting(s) bakend"),
        ("max_depth = 'deep'\n", {}, "bad value for 'max_depth'"),
        ("max_depth = [\n", {}, "cannot read it"),
        ("", {"RLM_MAX_BUDGET": "lots"}, "RLM_MAX_BUDGET: bad value for 'max_budget'"),
        ("", {"RLM_CONFIG": "/nonexistent/rlm.toml"}, "does not exist"),
    ],
)
def test_bad_settings_are_clear_errors(tmp_path, monkeypatch, toml, env, message):
    cfg = tmp_path / "config" / "rlm" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text(toml)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    result = invoke(["run", "q", "--no-log"])
    assert result.exit_code == 2
    assert message in result.stderr


def test_api_key_picks_its_backend(monkeypatch):
    from rlm.cli import config
    from rlm.clients import REGISTRY

    monkeypatch.setitem(REGISTRY, "openrouter", ("rlm.clients.offline:ScriptedLM", None))
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-test")
    assert config.pick_backend(config.load_settings()) == (
        "openrouter",
        "$OPENROUTER_API_KEY is set",
    )
    monkeypatch.setenv("RLM_BACKEND", "scripted")
    assert config.pick_backend(config.load_settings())[0] == "scripted"
