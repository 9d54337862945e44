"""`rlm run` end to end: a real completion through the engine, played by the offline
`scripted` backend, driven through click's runner and through a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import rlm
from cli_support import CLI_VARS, KEYS, isolate_cli, scripted
from rlm.cli.main import main
from rlm.viewer.store import read_log


@pytest.fixture(autouse=True)
def clean_env(tmp_path, monkeypatch):
    isolate_cli(tmp_path, monkeypatch)
    monkeypatch.chdir(tmp_path)


def invoke(args, input=None):
    return CliRunner().invoke(main, args, input=input, catch_exceptions=False)


PRINT_CONTEXT = "```repl\nprint(type(context).__name__, len(context))\nprint(context)\n```"


def test_answer_on_stdout_progress_on_stderr_and_a_log(tmp_path):
    logs = tmp_path / "logs"
    result = invoke(
        [
            "run",
            "What is 6*7?",
            "--log-dir",
            str(logs),
            *scripted("```repl\nx = 6 * 7\nprint(x)\n```", "FINAL(42)"),
        ]
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "42\n"
    assert "iteration 1 started" in result.stderr and "done:" in result.stderr
    (log_file,) = logs.glob("*.jsonl")
    (run,) = read_log(log_file)
    assert run.metadata["root_prompt"] == "What is 6*7?"
    assert [it["code_blocks"][0]["result"]["stdout"] for it in run.iterations[:1]] == ["42\n"]
    assert str(log_file) in result.stderr


def test_json_output_and_default_log_dir(tmp_path):
    result = invoke(["run", "q", "--json", "-q", *scripted("FINAL(yes)")])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["response"] == "yes"
    assert data["usage"]["model_usage_summaries"]["scripted"]["total_calls"] == 1
    assert data["time"] >= 0
    assert Path(data["log_path"]).parent == tmp_path / "data" / "rlm" / "logs"
    assert result.stderr == ""  # --quiet


def test_file_context_reaches_the_repl_as_text(tmp_path):
    (tmp_path / "notes.txt").write_text("the code word is heron\n")
    result = invoke(
        [
            "run",
            "code word?",
            "-c",
            "notes.txt",
            "--no-log",
            "-q",
            "--json",
            *scripted(PRINT_CONTEXT, "FINAL(heron)"),
        ]
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["response"] == "heron"


def test_directory_context_is_a_list_of_documents(tmp_path):
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "a.md").write_text("alpha")
    (docs / "sub" / "b.json").write_text('{"k": [1, 2]}')
    (docs / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    logs = tmp_path / "logs"
    code = "```repl\nprint([(d['path'], d['content']) for d in context])\n```"
    result = invoke(
        ["run", "list them", "-c", "docs", "--log-dir", str(logs), *scripted(code, "FINAL(done)")]
    )
    assert result.exit_code == 0, result.stderr
    assert "skipped docs/logo.png" in result.stderr
    (run,) = read_log(next(logs.glob("*.jsonl")))
    stdout = run.iterations[0]["code_blocks"][0]["result"]["stdout"]
    assert stdout.strip() == "[('docs/a.md', 'alpha'), ('docs/sub/b.json', {'k': [1, 2]})]"


def test_compressed_and_latin1_files_are_read(tmp_path):
    # Debian ships man pages and most of /usr/share/doc gzipped, and some of it in Latin-1.
    import bz2
    import gzip
    import lzma

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ls.1.gz").write_bytes(gzip.compress(b".SH NAME\nls \\- list directory contents\n"))
    (docs / "data.json.bz2").write_bytes(bz2.compress(b'{"k": 2}'))
    (docs / "notes.txt.xz").write_bytes(lzma.compress(b"heron"))
    (docs / "broken.gz").write_bytes(b"\x1f\x8b\x08 not really gzip")
    (docs / "AUTHORS").write_bytes("Fran\u00e7ois Pinard\n".encode("latin-1"))
    logs = tmp_path / "logs"
    code = "```repl\nprint([(d['path'], d['content']) for d in context])\n```"
    result = invoke(
        ["run", "list them", "-c", "docs", "--log-dir", str(logs), *scripted(code, "FINAL(ok)")]
    )
    assert result.exit_code == 0, result.stderr
    assert "skipped docs/broken.gz" in result.stderr
    assert "note: docs/AUTHORS: not UTF-8 (byte 4), read as Latin-1" in result.stderr
    (run,) = read_log(next(logs.glob("*.jsonl")))
    stdout = run.iterations[0]["code_blocks"][0]["result"]["stdout"]
    assert "('docs/data.json.bz2', {'k': 2})" in stdout
    assert "('docs/ls.1.gz', '.SH NAME\\nls \\\\- list directory contents\\n')" in stdout
    assert "('docs/notes.txt.xz', 'heron')" in stdout
    assert "('docs/AUTHORS', 'François Pinard\\n')" in stdout


def test_stdin_json_is_parsed(tmp_path):
    code = "```repl\nprint(type(context).__name__, context['n'])\n```"
    logs = tmp_path / "logs"
    result = invoke(
        ["run", "n?", "-c", "-", "--log-dir", str(logs), *scripted(code, "FINAL(3)")],
        input='{"n": 3}',
    )
    assert result.exit_code == 0, result.stderr
    (run,) = read_log(next(logs.glob("*.jsonl")))
    assert run.iterations[0]["code_blocks"][0]["result"]["stdout"] == "dict 3\n"


def test_sub_model_gets_llm_query_calls(tmp_path):
    logs = tmp_path / "logs"
    # The sub-client is a second scripted client with the same script: its first response
    # answers the llm_query.
    code = "```repl\nprint(llm_query('hello?'))\n```"
    result = invoke(
        [
            "run",
            "q",
            "--model",
            "root-m",
            "--sub-model",
            "sub-m",
            "--log-dir",
            str(logs),
            *scripted(code, "FINAL(ok)"),
        ]
    )
    assert result.exit_code == 0, result.stderr
    (run,) = read_log(next(logs.glob("*.jsonl")))
    (call,) = run.iterations[0]["code_blocks"][0]["result"]["rlm_calls"]
    assert call["root_model"] == "sub-m" and call["prompt"] == "hello?"
    assert "sub-call to sub-m" in result.stderr


def test_limit_exceeded_exits_3(tmp_path):
    loop = "```repl\nprint('again')\n```"
    result = invoke(["run", "q", "--max-tokens", "50", "--no-log", *scripted(loop, loop, loop)])
    assert result.exit_code == 3
    assert "Token limit exceeded" in result.stderr


def test_limit_with_json_reports_the_error_as_json():
    loop = "```repl\nprint('again')\n```"
    result = invoke(["run", "q", "--max-tokens", "50", "--no-log", "--json", *scripted(loop, loop)])
    assert result.exit_code == 3
    data = json.loads(result.stdout)
    assert data["exit_code"] == 3 and "Token limit exceeded" in data["error"]


def test_model_error_exits_1_with_message():
    result = invoke(["run", "q", "--no-log", "--max-iterations", "2", *scripted("no final here")])
    assert result.exit_code == 1
    assert "ran out of responses" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-c", "missing.txt"], "missing.txt: no such file or directory"),
        (["-c", "*.nothing"], "no file matches this pattern"),
        (["-c", "blob.bin"], "blob.bin: looks binary"),
        (["-c", "empty.txt"], "the context is empty"),
        (["-c", "bad.json"], "bad.json: invalid JSON at line 1"),
        (["-c", "emptydir"], "emptydir: the directory has no files"),
        (["--backend", "nope"], "Unknown backend 'nope'"),
        (
            [
                "--environment",
                "nope",
                "--backend",
                "scripted",
                "--backend-kwargs",
                '{"responses": []}',
            ],
            "nope",
        ),
    ],
)
def test_bad_input_fails_before_anything_is_written(tmp_path, args, message):
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01\x02binary")
    (tmp_path / "empty.txt").write_text("  \n")
    (tmp_path / "bad.json").write_text("{oops")
    (tmp_path / "emptydir").mkdir()
    logs = tmp_path / "logs"
    result = invoke(["run", "q", "--log-dir", str(logs), *args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.stdout == ""
    assert not list(logs.glob("*")) if logs.exists() else True


def test_empty_query_is_a_usage_error():
    result = invoke(["run", "  ", *scripted("FINAL(x)")])
    assert result.exit_code == 2 and "the query is empty" in result.stderr


def test_bad_backend_kwargs_json_is_a_usage_error():
    result = invoke(["run", "q", "--backend", "scripted", "--backend-kwargs", "{nope"])
    assert result.exit_code == 2
    assert "not valid JSON" in result.stderr


def test_no_backend_lists_how_to_configure_one(monkeypatch):
    from rlm.cli import config

    if config.local_backend_available():
        pytest.skip("the embedded local backend is installed here, so it would be picked")
    result = invoke(["run", "q"])
    assert result.exit_code == 2
    for hint in ("OPENAI_API_KEY", "pip install 'rlm[local]'", "--backend", "scripted"):
        assert hint in result.stderr


def test_settings_come_from_env_and_config_file_and_flags_win(tmp_path, monkeypatch):
    cfg = tmp_path / "config" / "rlm" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text(
        'backend = "scripted"\nenvironment = "local"\nmax_iterations = 1\n[backend_kwargs]\nresponses = ["FINAL(from-config)"]\n'
    )
    result = invoke(["run", "q", "--no-log", "-q"])
    assert (result.exit_code, result.stdout) == (0, "from-config\n"), result.stderr
    monkeypatch.setenv("RLM_BACKEND_KWARGS", '{"responses": ["FINAL(from-env)"]}')
    assert invoke(["run", "q", "--no-log", "-q"]).stdout == "from-env\n"
    flag = invoke(
        ["run", "q", "--no-log", "-q", "--backend-kwargs", '{"responses": ["FINAL(from-flag)"]}']
    )
    assert flag.stdout == "from-flag\n"


def test_subprocess_with_stdin_and_live_display(tmp_path):
    """The installed entry point as a user runs it: real process, real pipes."""
    env = {k: v for k, v in os.environ.items() if k not in CLI_VARS and k not in KEYS}
    src = str(Path(rlm.__file__).resolve().parents[1])
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    env["RLM_LOG_DIR"] = str(tmp_path / "logs")
    args = [
        sys.executable,
        "-m",
        "rlm.cli",
        "run",
        "shout it",
        "-c",
        "-",
        *scripted("```repl\nprint(context.upper())\n```", "FINAL(done)"),
    ]
    proc = subprocess.run(args, input=b"quiet words", capture_output=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout == b"done\n"
    (run,) = read_log(next((tmp_path / "logs").glob("*.jsonl")))
    assert run.iterations[0]["code_blocks"][0]["result"]["stdout"] == "QUIET WORDS\n"
