"""`SmartRouter`: one plain call when the context fits the model's window, an RLM otherwise,
with the four execution profiles; and `rlm run --route auto|plain`."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cli_support import isolate_cli
from rlm import Context, ExecutionProfile, RouterConfig, SmartRouter
from rlm.cli.main import main
from rlm.router import STRATEGIES
from runtime_support import RUNTIME_ENVS, env_param, repl

SHORT = "Section 8. A licensee may cure a violation within 30 days of notice."
LONG = "Filler line of the licence text.\n" * 400 + SHORT  # ~13 k chars, ~3.3 k tokens


def model(messages):
    """Plays the model: a plain call answers from the context; an RLM root turn searches
    with code and answers through a sub-call; a sub-call reads its snippet."""
    last = messages[-1]["content"]
    if last.startswith("Context:"):
        return "30 days (plain)"
    if last.startswith("Question:"):
        return "30" if "cure" in last else "NO_ANSWER"
    if any("REPL output" in m["content"] for m in messages if m["role"] == "user"):
        return "FINAL_VAR(found)"
    return repl("i = P.find('cure')\nfound = ask('days to cure?', P[i - 50 : i + 50])")


def router(window: int = 2_000, environment: str = "local", **kwargs) -> SmartRouter:
    return SmartRouter(
        "function",
        {"function": model, "model_name": "m"},
        context_window=window,
        environment=environment,
        **kwargs,
    )


@pytest.fixture(params=RUNTIME_ENVS)
def env_name(request: pytest.FixtureRequest) -> str:
    return env_param(request.param)


def test_a_context_that_fits_gets_one_plain_call():
    with router() as r:
        assert r.choose(SHORT, "days?") == "baseline"
        result = r.run("How many days?", SHORT)
    assert (result.method, result.output) == ("baseline", "30 days (plain)")
    assert result.context_chars == len(SHORT) and result.context_tokens < 100
    assert [s.kind for s in result.trace.steps] == ["baseline_call"]
    assert result.tokens_used == result.trace.tokens > 0 and result.completion is None


def test_a_context_over_the_window_goes_to_an_rlm(env_name):
    with router(environment=env_name) as r:
        assert r.choose(LONG) == "rlm"
        result = r.run("How many days?", Context.from_text(LONG))
    assert (result.method, result.output) == ("rlm", "30")
    assert result.tokens_used == result.completion.usage_summary.total_tokens
    assert [s.kind for s in result.trace.steps][:3] == ["root_call", "repl_exec", "subcall"]


def test_the_plain_call_keeps_the_users_limits_and_logger(tmp_path):
    from rlm import TokenLimitExceededError, Trace
    from rlm.logger import RLMLogger

    with router(max_tokens=10) as r, pytest.raises(TokenLimitExceededError):
        r.run("How many days?", SHORT)
    logger = RLMLogger(log_dir=tmp_path)
    with router(logger=logger) as r:
        result = r.run("How many days?", SHORT)
    assert [s.kind for s in Trace.from_log(logger.log_file_path).steps] == ["root_call"]
    assert result.trace.steps[0].output == "30 days (plain)"


def test_the_window_decides_not_the_characters():
    with router(window=64_000) as big, router(window=2_000) as small:
        assert big.choose(LONG) == "baseline" and small.choose(LONG) == "rlm"
    # pyrlm-runtime's fixed character threshold, when asked for:
    with router(window=64_000, config=RouterConfig(baseline_threshold=8_000)) as fixed:
        assert fixed.choose(LONG) == "rlm" and fixed.choose(SHORT) == "baseline"


def test_huge_contexts_are_not_counted_token_by_token():
    with router() as r:
        chars, tokens = r.measure("x" * 100_000)
    assert (chars, tokens) == (100_000, None)


@pytest.mark.parametrize("profile", list(ExecutionProfile))
def test_every_profile_asks_for_its_strategy(profile):
    seen = []

    def recording(messages):
        seen.append(messages[-1]["content"])
        return model(messages)

    r = SmartRouter("function", {"function": recording}, context_window=2_000,
                    environment="local")  # fmt: skip
    with r:
        result = r.run("How many days?", LONG, profile=profile)
        depth = r._rlms[profile].config.max_depth
    assert result.profile is profile and result.method == "rlm"
    assert STRATEGIES[profile] in seen[0]
    assert 'The query to answer: "How many days?"' in seen[0]  # the query alone
    assert depth == (2 if profile is ExecutionProfile.VERIFY else 1)


def test_forcing_a_plain_call_cuts_what_does_not_fit():
    with router(window=400) as r:
        result = r.run("How many days?", LONG, force_method="baseline")
    assert result.method == "baseline" and result.output == "30 days (plain)"
    with pytest.raises(Exception, match="force_method"):
        router().run("q", SHORT, force_method="maybe")


# -- rlm run --route -------------------------------------------------------------------------------
def _cli(tmp_path, monkeypatch, route: str, text: str, responses: list[str]):
    isolate_cli(tmp_path, monkeypatch)
    (tmp_path / "licence.txt").write_text(text)
    kwargs = {"responses": responses, "context_window": 2_000}
    args = ["run", "How many days?", "-c", str(tmp_path / "licence.txt"), "--route", route,
            "--backend", "scripted", "--backend-kwargs", json.dumps(kwargs),
            "--environment", "local", "--no-log", "--json"]  # fmt: skip
    return CliRunner().invoke(main, args, catch_exceptions=False)


def test_cli_route_auto_answers_a_small_context_with_one_call(tmp_path, monkeypatch):
    out = _cli(tmp_path, monkeypatch, "auto", SHORT, ["30 days"])
    assert out.exit_code == 0, out.stderr
    data = json.loads(out.stdout)
    assert (data["response"], data["method"]) == ("30 days", "plain")
    assert "route: plain call" in out.stderr


def test_cli_route_auto_runs_an_rlm_on_a_large_context(tmp_path, monkeypatch):
    out = _cli(tmp_path, monkeypatch, "auto", LONG, [repl("print(P.find('cure'))"), "FINAL(30)"])
    assert out.exit_code == 0, out.stderr
    assert json.loads(out.stdout)["response"] == "30"
    assert "route: RLM" in out.stderr
