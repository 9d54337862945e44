"""The observer seam: one channel carries every event of the tree to every observer."""

from __future__ import annotations

import time

import pytest

from conftest import repl
from rlm import RLM, TimeoutExceededError
from rlm.core.limits import Limits, RunGuard
from rlm.errors import ConfigurationError
from rlm.logger import Observer
from rlm.types import CallUsage, LMResponse


class Recording(Observer):
    def __init__(self) -> None:
        self.events: list[tuple] = []

    def run_started(self, depth, metadata):
        self.events.append(("run_started", depth, metadata["depth"]))

    def iteration_started(self, depth, number):
        self.events.append(("iteration_started", depth, number))

    def model_responded(self, depth, text):
        self.events.append(("model_responded", depth))

    def code_executed(self, depth, code, result):
        self.events.append(("code_executed", depth, result.stdout.strip()))

    def iteration_completed(self, depth, number, iteration):
        self.events.append(("iteration_completed", depth, number))

    def subcall_started(self, depth, model, prompt_preview):
        self.events.append(("subcall_started", depth, prompt_preview))

    def subcall_completed(self, depth, model, elapsed, error):
        self.events.append(("subcall_completed", depth, error))

    def final_answer(self, depth, answer):
        self.events.append(("final_answer", depth, answer))

    def run_finished(self, depth, completion):
        self.events.append(("run_finished", depth, completion.response))


def test_an_observer_sees_the_whole_tree_in_order():
    def model(messages):
        system = messages[0]["content"]
        last = messages[-1]["content"]
        if "child question" in last and "REPL output" not in last:
            return repl("print('child ran')")
        if "child ran" in last:
            return "FINAL(child answer)"
        if "got:" in last:
            return "FINAL(done)"
        assert system
        return repl("r = rlm_query('child question')\nprint('got:', r)")

    seen = Recording()
    rlm = RLM(
        backend="function",
        backend_kwargs={"function": model},
        environment="local",
        max_depth=2,
        observers=[seen],
    )
    assert rlm.completion("ctx").response == "done"
    kinds = [e[:2] for e in seen.events]
    assert kinds[:3] == [("run_started", 0), ("iteration_started", 0), ("model_responded", 0)]
    assert ("subcall_started", 1) in kinds
    child = [e for e in seen.events if e[1] == 1 and e[0] != "subcall_started"]
    assert child[0][0] == "run_started" and child[-1] == ("subcall_completed", 1, None)
    assert ("final_answer", 1, "child answer") in seen.events
    assert ("code_executed", 0, "got: child answer") in seen.events
    assert seen.events[-1] == ("run_finished", 0, "done")


def test_a_raising_observer_is_logged_and_the_run_goes_on(caplog):
    class Broken(Observer):
        def model_responded(self, depth, text):
            raise ValueError("display bug")

    rlm = RLM(
        backend="scripted",
        backend_kwargs={"responses": ["FINAL(7)"]},
        environment="local",
        observers=[Broken()],
    )
    assert rlm.completion("c").response == "7"
    assert "Broken.model_responded raised" in caplog.text


def test_observers_must_be_observers():
    with pytest.raises(ConfigurationError, match=r"rlm\.logger\.Observer"):
        RLM(backend="scripted", backend_kwargs={"responses": []}, observers=[print])


def test_a_model_call_abandoned_on_timeout_is_charged_when_it_returns():
    guard = RunGuard(Limits(max_timeout=0.2))

    def slow(messages):
        time.sleep(0.6)
        return LMResponse("late", CallUsage("slow-model", 100, 10, 0.5))

    with pytest.raises(TimeoutExceededError):
        guard.call_model(slow, [{"role": "user", "content": "x"}])
    deadline = time.monotonic() + 5
    while "slow-model" not in guard.usage_summary().model_usage_summaries:
        assert time.monotonic() < deadline, "the abandoned call was never charged"
        time.sleep(0.05)
    summary = guard.usage_summary().model_usage_summaries["slow-model"]
    assert (summary.total_calls, summary.total_input_tokens, summary.total_cost) == (1, 100, 0.5)
