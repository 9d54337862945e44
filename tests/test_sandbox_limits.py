"""Host-enforced limits and recovery of the `sandbox` environment."""

from __future__ import annotations

import os
import threading
import time

import pytest

from env_support import EchoHost, make_env
from rlm.environments import ToolSpec
from rlm.errors import ConfigurationError


@pytest.fixture
def sandbox():
    env = make_env("sandbox", cell_timeout=2.0)
    yield env
    env.close()


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read()[:120]
    except OSError as exc:
        return str(exc)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0): check its state.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_timeout_kills_the_worker_reports_lost_state_and_reloads_the_context(sandbox):
    sandbox.load_context("still here")
    sandbox.execute_code("mine = 1")
    old_pid = sandbox.worker_pid
    start = time.monotonic()
    result = sandbox.execute_code("while True:\n    pass")
    assert time.monotonic() - start < 10
    assert result.state_lost
    assert "timed out" in result.stderr and "state lost" in result.stderr
    assert not _alive(old_pid)
    after = sandbox.execute_code("print(context, 'mine' in globals())")
    assert after.stdout.strip() == "still here False"


def test_c_level_loop_is_killed_too(sandbox):
    # A regex with catastrophic backtracking never returns to the bytecode loop.
    result = sandbox.execute_code("import re\nre.match(r'(a+)+$', 'a' * 40 + 'b')")
    assert result.state_lost and "timed out" in result.stderr
    assert sandbox.execute_code("print(1 + 1)").stdout.strip() == "2"


def test_time_waiting_on_the_host_does_not_count_against_the_cell_timeout():
    env = make_env("sandbox", host=EchoHost(delay=1.5), cell_timeout=1.0)
    try:
        result = env.execute_code("print(llm_query('slow'), llm_query('slower'))")
        assert not result.state_lost, result.stderr
        assert result.stdout.strip() == "echo:slow echo:slower"
    finally:
        env.close()


def test_many_callbacks_are_in_flight_at_once():
    host = EchoHost(delay=0.3)
    env = make_env("sandbox", host=host)
    try:
        code = (
            "from concurrent.futures import ThreadPoolExecutor\n"
            "with ThreadPoolExecutor(16) as pool:\n"
            "    out = list(pool.map(llm_query, [str(i) for i in range(16)]))\n"
            "print(out == ['echo:' + str(i) for i in range(16)])"
        )
        start = time.monotonic()
        result = env.execute_code(code)
        elapsed = time.monotonic() - start
        assert result.stdout.strip() == "True", result.stderr
        assert host.max_in_flight >= 8
        assert elapsed < 16 * 0.3 / 2  # concurrent, not serial
    finally:
        env.close()


def test_output_cap_reports_dropped_characters():
    env = make_env("sandbox", max_output_chars=1000)
    try:
        result = env.execute_code("print('x' * 5000)")
        assert len(result.stdout) == 1000
        assert result.truncated_chars == 4001
    finally:
        env.close()


def test_memory_cap_turns_a_bomb_into_a_memory_error():
    env = make_env("sandbox", memory_limit=512 * 1024 * 1024)
    try:
        result = env.execute_code("blob = bytearray(2 * 1024 ** 3)")
        assert "MemoryError" in result.stderr
        assert env.execute_code("print('alive')").stdout.strip() == "alive"
    finally:
        env.close()


@pytest.mark.parametrize(
    "crash",
    [
        "import os; os._exit(7)",
        "import ctypes; ctypes.string_at(0)",
        "import os, signal; os.kill(os.getpid(), signal.SIGKILL)",
        "import sys; sys.exit(3)",
    ],
)
def test_a_crashing_worker_is_replaced(sandbox, crash):
    sandbox.load_context("ctx")
    result = sandbox.execute_code(crash)
    if "sys.exit" in crash:  # SystemExit is an ordinary exception in model code
        assert "SystemExit" in result.stderr and not result.state_lost
    else:
        assert result.state_lost
        assert "died" in result.stderr
    assert sandbox.execute_code("print(context)").stdout.strip() == "ctx"


def test_interrupt_from_another_thread_kills_the_cell(sandbox):
    env = make_env("sandbox", cell_timeout=60)
    try:
        timer = threading.Timer(0.5, env.interrupt)
        timer.start()
        start = time.monotonic()
        result = env.execute_code("import time\ntime.sleep(30)")
        assert time.monotonic() - start < 10
        assert result.state_lost and "interrupted" in result.stderr
        assert env.execute_code("print('next')").stdout.strip() == "next"
    finally:
        env.close()


def test_non_json_tool_values_cross_as_proxies_not_objects():
    # A host object is never sent: the worker gets a proxy whose methods run on the host.
    lock = threading.Lock()
    env = make_env("sandbox", tools=[ToolSpec("handle", lock)])
    try:
        result = env.execute_code("print(handle.acquire(), handle.locked(), repr(handle))")
        assert result.stdout.startswith("True True <host lock") and lock.locked()
    finally:
        env.close()


def test_non_json_context_is_refused_with_a_hint(sandbox):
    with pytest.raises(ConfigurationError, match="environment='local'"):
        sandbox.load_context(object())


def test_tool_arguments_must_be_json(sandbox):
    env = make_env("sandbox", tools=[ToolSpec("echo", lambda x: x)])
    try:
        result = env.execute_code("echo(object())")
        assert "TypeError" in result.stderr and "JSON" in result.stderr
        assert env.execute_code("print(echo([1, 'a']))").stdout.strip() == "[1, 'a']"
    finally:
        env.close()


def test_unknown_degraded_layer_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="allow_degraded"):
        make_env("sandbox", allow_degraded=["everything"])


def test_close_kills_the_worker_and_removes_its_temp_dir():
    env = make_env("sandbox")
    env.execute_code("open('scratch.txt', 'w').write('x')")
    pid, tmpdir = env.worker_pid, env._tmpdir
    assert os.path.exists(os.path.join(tmpdir, "scratch.txt"))
    env.close()
    assert not _alive(pid), f"worker {pid} alive after close: {_state(pid)}"
    assert not os.path.exists(tmpdir), f"left behind: {os.listdir(tmpdir)}"


def test_partial_answer_is_kept_by_the_host_after_the_worker_is_killed(sandbox):
    sandbox.execute_code("answer['content'] = 'half done'")
    assert sandbox.partial_answer == "half done"
    sandbox.interrupt()
    assert sandbox.partial_answer == "half done"


def test_close_from_another_thread_ends_a_running_cell_without_a_new_worker():
    env = make_env("sandbox", cell_timeout=60)
    pid = env.worker_pid
    closer = threading.Timer(0.5, env.close)
    closer.start()
    result = env.execute_code("import time\ntime.sleep(30)")
    closer.join()
    assert result.state_lost and "closed" in result.stderr
    assert env.worker_pid is None
    assert not _alive(pid)


def test_an_oversized_callback_request_is_an_error_in_model_code():
    env = make_env("sandbox", max_message=1024 * 1024)
    try:
        result = env.execute_code("llm_query('x' * 5_000_000)")
        assert "too large" in result.stderr and not result.state_lost
        assert env.execute_code("print(llm_query('small'))").stdout.strip() == "echo:small"
    finally:
        env.close()


def test_answer_written_before_a_timeout_is_kept_as_the_partial_answer(sandbox):
    result = sandbox.execute_code("answer['content'] = 'so far'\nwhile True:\n    pass")
    assert result.state_lost
    assert sandbox.partial_answer == "so far"


def test_interrupt_between_cells_stops_the_next_cell_only():
    env = make_env("sandbox")
    try:
        env.execute_code("kept = 1")
        env.interrupt()
        skipped = env.execute_code("kept = 2")
        assert "before the cell ran" in skipped.stderr and not skipped.state_lost
        assert env.execute_code("print(kept)").stdout.strip() == "1"
    finally:
        env.close()


def test_huge_final_answers_and_variables_are_capped_not_fatal():
    env = make_env("sandbox")
    try:
        env.execute_code("big = 'z' * 30_000_000")
        result = env.execute_code("FINAL(big)")
        assert not result.state_lost
        assert 0 < len(result.final_answer) < 30_000_000 and "cut" in result.stderr
        assert 0 < len(env.resolve_variable("big")) < 30_000_000
        assert env.execute_code("print(len(big))").stdout.strip() == "30000000"
    finally:
        env.close()


def test_a_leftover_thread_hogging_the_worker_cannot_hang_the_host():
    # A thread left running by an earlier cell holds the GIL in C code, so the worker stops
    # reading its channel. Loading a big context must fail over to a fresh worker in bounded
    # time, not block the host forever in a send.
    env = make_env("sandbox", cell_timeout=1)
    try:
        started = env.execute_code(
            "import re, threading, time\n"
            "def hog():\n"
            "    time.sleep(0.5)\n"
            "    re.match(r'(a|aa)+$', 'a' * 80 + 'b')\n"
            "threading.Thread(target=hog, daemon=True).start()"
        )
        assert not started.state_lost
        time.sleep(1)
        pid = env.worker_pid
        start = time.monotonic()
        env.load_context("q" * (40 * 1024 * 1024))
        assert time.monotonic() - start < 30
        assert env.worker_pid != pid  # the stuck worker was replaced
        result = env.execute_code("print(len(context))")
        assert "state lost" in result.stderr or "lost" in result.stderr
        assert result.stdout.strip() == str(40 * 1024 * 1024)
    finally:
        env.close()


def test_a_context_too_big_for_an_explicit_memory_limit_is_an_rlm_error():
    from rlm.errors import REPLEnvironmentError

    env = make_env("sandbox", memory_limit=256 * 1024 * 1024)
    try:
        with pytest.raises(REPLEnvironmentError, match="memory_limit"):
            env.load_context("m" * (400 * 1024 * 1024))
    finally:
        env.close()
