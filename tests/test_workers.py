"""The shared thread pool: bounded, and deadlock-free under nested batches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading

SCRIPT = textwrap.dedent(
    '''
    import json, threading, time
    from rlm import RLM

    CODE = """
    lvl = int(context[1])
    if lvl >= 2:
        FINAL(context)
    else:
        out = rlm_query_batched([f"L{lvl + 1}-{i}" for i in range(6)])
        FINAL("|".join(out))
    """
    peak = 0
    stop = False

    def sample():
        global peak
        while not stop:
            peak = max(peak, sum(t.name.startswith("rlm-worker") for t in threading.enumerate()))
            time.sleep(0.002)

    def model(messages):
        time.sleep(0.005)
        return "```repl" + CODE + "```"

    threading.Thread(target=sample, daemon=True).start()
    rlm = RLM(backend="function", backend_kwargs={"function": model}, environment="local",
              max_depth=3, max_concurrent_subcalls=6)
    answer = rlm.completion("L0").response
    stop = True
    print(json.dumps({"answer": answer, "peak": peak}))
    '''
)


def run_tree(max_threads: int) -> dict:
    env = {**os.environ, "RLM_MAX_THREADS": str(max_threads)}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_nested_batches_finish_within_a_small_thread_bound():
    # 1 + 6 + 36 runs; unbounded, the pool would start a thread for each of the 42 sub-runs.
    result = run_tree(max_threads=3)
    leaves = result["answer"].split("|")
    assert len(leaves) == 36 and leaves[0] == "L2-0" and leaves[-1] == "L2-5"
    assert result["peak"] <= 3


def test_without_pressure_the_batch_bound_is_what_limits_concurrency():
    result = run_tree(max_threads=128)
    assert len(result["answer"].split("|")) == 36
    assert result["peak"] > 6  # children's batches really ran side by side


def test_a_thread_busy_with_a_task_queued_while_full_is_not_counted_idle():
    # The accounting behind `saturated`, which decides whether a waiter may run the task it
    # waits for: a thread that finishes one task and picks up one that was queued while the
    # pool was full is busy, not idle. Counted idle, `saturated` stayed False while every
    # thread was blocked, and nested batches deadlocked under load.
    from rlm.core.workers import ElasticPool

    pool = ElasticPool(name="test-pool", max_threads=1)
    first_may_end, second_may_end = threading.Event(), threading.Event()
    second_started = threading.Event()

    def second():
        second_started.set()
        second_may_end.wait(10)

    pool.submit(first_may_end.wait, 10)
    pool.submit(second)  # queued: the only thread is busy
    assert pool.saturated
    first_may_end.set()
    assert second_started.wait(10)
    assert pool.saturated, "the one thread is running the queued task"
    second_may_end.set()
