"""`RLM` for reference users: its keywords, attributes, lazy clients, the get_client seam."""

from __future__ import annotations

import subprocess
import sys

import pytest

import rlm.core.rlm as rlm_module
from conftest import repl
from rlm import RLM
from rlm.core.types import ModelUsageSummary
from rlm.errors import ConfigurationError


class RecordingLM:
    """A client written for the reference: not our BaseLM, only its method names."""

    model_name = "their-model"

    def __init__(self, responses):
        self.responses = list(responses)
        self.prompts = []

    def completion(self, prompt):
        self.prompts.append(prompt)
        return self.responses.pop(0)

    def get_last_usage(self):
        return ModelUsageSummary(1, 10, 5)


def test_reference_attributes_and_depth_as_fifth_positional():
    tools = {"double": lambda x: 2 * x}
    r = RLM("openai", {"model_name": "m"}, "local", {"setup_code": "A = 1"}, 1, max_depth=3,
            custom_tools=tools, max_timeout=9.0, max_budget=1.0, persistent=True,
            orchestrator=False, user_prologue="tips")  # fmt: skip
    assert (r.depth, r.max_depth, r.max_iterations) == (1, 3, 30)
    assert (r.backend, r.backend_kwargs, r.environment_type) == (
        "openai",
        {"model_name": "m"},
        "local",
    )
    assert r.environment_kwargs == {"setup_code": "A = 1"}
    assert (r.max_timeout, r.max_budget, r.persistent) == (9.0, 1.0, True)
    assert r.custom_tools == tools and r.custom_sub_tools == tools
    assert r.user_prologue == "tips" and r.orchestrator is False


def test_no_client_is_built_at_construction(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    RLM(backend="openai", backend_kwargs={"model_name": "gpt-x"})  # no "no API key" here


@pytest.mark.parametrize("environment", ["local", "sandbox"])
def test_patched_get_client_plays_the_model(monkeypatch, environment):
    lm = RecordingLM([repl("answer['content'] = str(PRE + 1)\nanswer['ready'] = True")])
    calls = []
    monkeypatch.setattr(rlm_module, "get_client", lambda *args: calls.append(args) or lm)
    r = RLM(backend="openai", backend_kwargs={"model_name": "test-model"},
            environment=environment, environment_kwargs={"setup_code": "PRE = 5"},
            user_prologue="Read the tips first.")  # fmt: skip
    result = r.completion("ctx")
    assert result.response == "6" and result.root_model == "test-model"
    assert calls == [("openai", {"model_name": "test-model"})]
    assert "Read the tips first." in lm.prompts[0][1]["content"]
    assert result.usage_summary.model_usage_summaries["test-model"].total_input_tokens == 10


def test_persistent_env_is_exposed_with_its_variables(monkeypatch):
    lm = RecordingLM([repl("x = 41"), "FINAL(x)", repl("y = x + 1"), "FINAL(y)"])
    monkeypatch.setattr(rlm_module, "get_client", lambda *args: lm)
    with RLM(backend="openai", persistent=True, environment="sandbox") as r:
        r.completion("first")
        r.completion("second")
        env = r._persistent_env
        assert env.get_context_count() == 2 and env.get_history_count() == 2
        assert env.locals["y"] == 42 and env.locals["context_1"] == "second"
    assert r._persistent_env is None


def test_unknown_environment_keyword_lists_the_accepted_ones():
    with pytest.raises(ConfigurationError, match=r"does not accept bogus; accepted .*setup_code"):
        RLM(environment="sandbox", environment_kwargs={"bogus": 1})


@pytest.mark.parametrize(
    ("name", "sdk"),
    [("modal", "modal"), ("prime", "prime_sandboxes"), ("daytona", "daytona"), ("e2b", "e2b")],
)
def test_provider_environments_without_their_sdk_name_their_extra(name, sdk):
    # A fresh interpreter in which the provider's SDK cannot be imported, as on a machine
    # without the extra (None in sys.modules makes `import sdk` raise ImportError).
    code = (
        f"import sys; sys.modules[{sdk!r}] = None\n"
        "from rlm import RLM\n"
        "try:\n"
        f"    RLM(environment={name!r})\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ConfigurationError"), proc.stdout
    assert f"rlm[{name}]" in proc.stdout


def test_setup_code_that_fails_says_so():
    with pytest.raises(Exception, match="setup_code"):
        RLM(backend="scripted", backend_kwargs={"responses": ["FINAL(1)"]}, environment="local",
            environment_kwargs={"setup_code": "1/0"}).completion("c")  # fmt: skip
