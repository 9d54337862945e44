"""`rlm run` says how the run ended: a forced answer warns on stderr and exits 4; `--json`
carries the finish reason; `rlm logs` shows it; `--max-depth 0` answers the question."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cli_support import isolate_cli, scripted
from rlm.cli.main import main
from rlm.cli.run import EXIT_FORCED, EXIT_OK


@pytest.fixture(autouse=True)
def clean_env(tmp_path, monkeypatch):
    isolate_cli(tmp_path, monkeypatch)
    monkeypatch.chdir(tmp_path)


def run(*responses, extra=(), query="q?"):
    args = ["run", query, *scripted(*responses), *extra]
    return CliRunner().invoke(main, args, catch_exceptions=False)


LOOP = "```repl\nprint('again')\n```"


def test_a_final_answer_exits_0_with_its_reason_in_json():
    result = run("FINAL(42)", extra=["--json"])
    assert result.exit_code == EXIT_OK
    data = json.loads(result.stdout)
    assert data["response"] == "42" and data["finish_reason"] == "final"
    assert data["exit_code"] == 0


def test_a_loop_ends_early_warns_and_exits_with_the_forced_code():
    result = run(LOOP, LOOP, LOOP, "FINAL(best guess)", extra=["--json", "-q"])
    assert result.exit_code == EXIT_FORCED == 4
    data = json.loads(result.stdout)
    assert (data["response"], data["finish_reason"]) == ("best guess", "loop")
    assert "warning:" in result.stderr and "repeated itself" in result.stderr


def test_out_of_iterations_warns_and_exits_4():
    result = run("```repl\nprint(1)\n```", "FINAL(7)", extra=["--max-iterations", "1"])
    assert result.exit_code == EXIT_FORCED
    assert result.stdout == "7\n"
    assert "ran out of iterations" in result.stderr


def test_max_depth_zero_sends_the_question_with_the_context(tmp_path, monkeypatch):
    (tmp_path / "doc.txt").write_text("The cure period is 30 days.")
    seen = []

    def model(messages):
        seen.append(messages)
        return "30"

    import rlm.cli.run as cli_run

    kwargs = cli_run.build_rlm_kwargs

    def with_function(settings, extra):
        out = kwargs(settings, extra)
        out["backend"], out["backend_kwargs"] = "function", {"function": model}
        return out

    # The CLI's own settings path, with a function playing the model.
    monkeypatch.setattr(cli_run, "build_rlm_kwargs", with_function)
    result = CliRunner().invoke(
        main,
        ["run", "How many days?", "-c", "doc.txt", "--max-depth", "0", "--backend", "scripted"],
        catch_exceptions=False,
    )
    assert result.exit_code == EXIT_OK, result.stderr
    assert result.stdout == "30\n"
    prompt = seen[0][-1]["content"]
    assert "The cure period is 30 days." in prompt and "How many days?" in prompt


def test_rlm_logs_show_and_list_name_the_finish_reason(tmp_path):
    logs = tmp_path / "logs"
    run(LOOP, LOOP, LOOP, "FINAL(best guess)", extra=["--log-dir", str(logs), "-q"])
    shown = CliRunner().invoke(main, ["logs", "show", "latest", "--log-dir", str(logs)])
    assert "finish reason: loop" in shown.stdout and "forced" in shown.stdout
    listed = CliRunner().invoke(main, ["logs", "list", "--log-dir", str(logs)])
    assert listed.stdout.split("\t")[4] == "loop"


def test_an_unverified_answer_warns_and_exits_4(tmp_path):
    """Given straight from the first look, twice, and in none of the lines shown."""
    path = tmp_path / "constants.py"
    path.write_text("\n".join([*[f"# note {i}" for i in range(200)], "RECORDS = 512 * 20"]))
    kwargs = {"responses": ["FINAL(1024)", "FINAL(1024)"], "context_window": 8192}
    args = [
        "run", "What is the value of RECORDS?", "-c", str(path), "--backend", "scripted",
        "--backend-kwargs", json.dumps(kwargs), "--environment", "local", "--json", "-q",
    ]  # fmt: skip
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == EXIT_FORCED
    data = json.loads(result.stdout)
    assert (data["response"], data["finish_reason"]) == ("1024", "unverified")
    assert "nor anything its code printed says this answer" in result.stderr
