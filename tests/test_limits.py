"""Limits hold for the whole tree, also while a cell or a sub-call is running."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from conftest import repl
from rlm import (
    RLM,
    BudgetExceededError,
    CancellationError,
    ErrorThresholdExceededError,
    TimeoutExceededError,
    TokenLimitExceededError,
)
from rlm.clients import BaseLM
from rlm.core.types import CallUsage, LMResponse
from rlm.errors import LimitExceededError, RLMError


class Priced(BaseLM):
    """A model with exact, known usage per call: 1,000 in, 100 out, $0.01."""

    def __init__(self, script, **kwargs):
        super().__init__(model_name="priced", **kwargs)
        self.script = script

    def complete(self, prompt, **sampling):
        text = self.script(prompt)
        return LMResponse(text, self.record(CallUsage("priced", 1000, 100, 0.01)))


def test_all_limit_errors_share_a_base_with_partial_answer():
    for cls in (
        BudgetExceededError,
        TimeoutExceededError,
        TokenLimitExceededError,
        ErrorThresholdExceededError,
    ):
        assert issubclass(cls, LimitExceededError) and issubclass(cls, RLMError)
    assert issubclass(CancellationError, RLMError)


def test_max_tokens_counts_sub_calls_and_carries_partial_answer():
    def script(messages):
        if messages[0]["role"] == "system":
            return repl(
                "answer['content'] = 'partial so far'\nfor i in range(10):\n    llm_query(str(i))"
            )
        return "sub"

    rlm = RLM(backend=Priced(script), environment="local", max_tokens=3500)
    with pytest.raises(TokenLimitExceededError) as info:
        rlm.completion("c")
    err = info.value
    assert err.tokens_used == 4400  # root call + 3 sub-calls, 1,100 tokens each
    assert err.partial_answer == "partial so far"


def test_max_budget_counts_children():
    def script(messages):
        if (
            messages[0]["role"] == "system"
            and "prompt becomes its `context`" in messages[0]["content"]
        ):
            return repl("rlm_query_batched(['a', 'b', 'c', 'd'])")
        if messages[0]["role"] == "system":
            return repl("llm_query('x')\nllm_query('y')")
        return "leaf"

    rlm = RLM(
        backend=Priced(script),
        environment="local",
        max_depth=2,
        max_budget=0.035,
        max_concurrent_subcalls=1,
    )
    with pytest.raises(BudgetExceededError) as info:
        rlm.completion("c")
    assert info.value.spent > 0.035
    assert info.value.spent <= 0.05  # stopped promptly, not after every child finished


def test_max_timeout_interrupts_a_long_running_cell(make_rlm):
    rlm = make_rlm([repl("answer['content'] = 'halfway'\nwhile True:\n    pass")], max_timeout=0.5)
    start = time.monotonic()
    with pytest.raises(TimeoutExceededError) as info:
        rlm.completion("c")
    assert time.monotonic() - start < 3
    assert info.value.partial_answer == "halfway"


def test_max_timeout_holds_during_a_slow_sub_call(make_rlm):
    def slow(messages):
        time.sleep(5)
        return "late"

    rlm = make_rlm([repl("llm_query('q')")], sub=slow, max_timeout=0.5)
    start = time.monotonic()
    with pytest.raises(TimeoutExceededError):
        rlm.completion("c")
    assert time.monotonic() - start < 2


def test_max_timeout_holds_during_a_slow_root_call():
    def slow(messages):
        time.sleep(5)
        return "FINAL(late)"

    rlm = RLM(
        backend="function", backend_kwargs={"function": slow}, environment="local", max_timeout=0.3
    )
    start = time.monotonic()
    with pytest.raises(TimeoutExceededError):
        rlm.completion("c")
    assert time.monotonic() - start < 2


def test_max_errors_counts_consecutive_failing_iterations(make_rlm):
    responses = [repl("1/0"), repl("x = 1"), repl("1/0"), repl("undefined_name"), repl("1/0")]
    with pytest.raises(ErrorThresholdExceededError) as info:
        make_rlm(responses, max_errors=3).completion("c")
    assert info.value.error_count == 3
    assert "ZeroDivisionError" in (info.value.last_error or "")


def test_successful_run_within_limits(make_rlm):
    result = make_rlm(["FINAL(1)"], max_tokens=10_000, max_timeout=30, max_errors=2).completion("c")
    assert result.response == "1"


def test_ctrl_c_gives_cancellation_and_stops_children():
    started = threading.Event()
    finished = []

    def model(messages):
        system = messages[0]["content"]
        if "prompt becomes its `context`" in system:
            return repl("rlm_query_batched(['a', 'b'])")
        started.set()
        return repl("import time\nfor _ in range(100):\n    time.sleep(0.05)\nFINAL('done')")

    def on_done(depth, model_name, duration, error):
        finished.append(error)

    rlm = RLM(
        backend="function",
        backend_kwargs={"function": model},
        environment="local",
        max_depth=2,
        on_subcall_complete=on_done,
    )
    main_pid = os.getpid()

    def interrupt():
        started.wait(5)
        time.sleep(0.2)
        os.kill(main_pid, signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    start = time.monotonic()
    with pytest.raises(CancellationError):
        rlm.completion("c")
    assert time.monotonic() - start < 3
    deadline = time.monotonic() + 3
    while len(finished) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(finished) == 2 and all(e and "Cancellation" in e for e in finished)


def test_async_task_cancellation_stops_the_run():
    import asyncio

    ticks = []

    def model(messages):
        return repl("import time\nwhile True:\n    tick()\n    time.sleep(0.01)")

    rlm = RLM(
        backend="function",
        backend_kwargs={"function": model},
        environment="local",
        custom_tools={"tick": lambda: ticks.append(time.monotonic())},
    )

    async def main():
        task = asyncio.create_task(rlm.acompletion("c"))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    time.sleep(0.2)
    count = len(ticks)
    time.sleep(0.3)
    assert count > 0 and len(ticks) == count, "the cell kept running after cancellation"


def test_a_tripped_limit_cancels_the_rest_of_an_async_batch(make_rlm):
    import asyncio

    finished = []

    async def sub(messages):
        await asyncio.sleep(0.2)
        finished.append(messages[-1]["content"])
        return "ok"

    rlm = make_rlm(
        [repl("llm_query_batched([str(i) for i in range(20)])")],
        sub=sub,
        max_concurrent_subcalls=2,
        max_timeout=0.5,
    )
    with pytest.raises(TimeoutExceededError):
        rlm.completion("c")
    time.sleep(0.6)
    assert len(finished) <= 6, f"{len(finished)} sub-calls ran after the limit tripped"
