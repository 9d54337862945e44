"""The simulated models both engines are driven with (stdlib only).

This module is imported by our benchmark runners *and* by `_reference_driver.py`, which runs
inside the reference implementation's virtualenv, so both engines see byte-identical model
replies and the comparison measures the engines, nothing else.

A simulated root model sleeps `root_latency`, then replies with one ```repl block; the block
sends a batch of `batch` sub-calls through `llm_query_batched` (each sub-call sleeps
`sub_latency`). After `iterations` root calls the block also sets `answer["ready"]`, the
final-answer signal both engines understand. With fully parallel batches the ideal wall time
is therefore iterations x (root_latency + sub_latency).
"""

from __future__ import annotations

import threading
import time

SUB_PREFIX = "bench-sub"


def overhead_reply(iteration: int, iterations: int, batch: int) -> str:
    """The root model's reply on its `iteration`-th call (0-based)."""
    lines = [
        f"rs = llm_query_batched([{SUB_PREFIX!r} + ' ' + str(i) for i in range({batch})])",
        f"assert len(rs) == {batch}, rs",
        "print(len(rs), rs[0])",
    ]
    if iteration >= iterations - 1:
        lines += ['answer["content"] = "done " + str(len(rs))', 'answer["ready"] = True']
    return f"Step {iteration + 1}.\n```repl\n" + "\n".join(lines) + "\n```\n"


def throughput_reply(n_sequential: int, n_batched: int) -> str:
    """One block that times `n_sequential` llm_query calls then one batch of `n_batched`,
    measured inside the REPL so only the sub-call path is timed."""
    code = f"""import time
t0 = time.perf_counter()
for i in range({n_sequential}):
    r = llm_query({SUB_PREFIX!r} + ' ' + str(i))
t1 = time.perf_counter()
rs = llm_query_batched([{SUB_PREFIX!r} + ' ' + str(i) for i in range({n_batched})])
t2 = time.perf_counter()
assert len(rs) == {n_batched}
answer["content"] = str(t1 - t0) + " " + str(t2 - t1)
answer["ready"] = True"""
    return f"```repl\n{code}\n```\n"


CONTEXT_REPLY = '```repl\nanswer["content"] = str(len(context))\nanswer["ready"] = True\n```\n'


def is_sub_call(prompt: object) -> bool:
    """Sub-calls arrive as a plain string or as a single user message."""
    if isinstance(prompt, str):
        return prompt.startswith(SUB_PREFIX)
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], dict):
        return str(prompt[0].get("content", "")).startswith(SUB_PREFIX)
    return False


class SimModel:
    """Plays the root model (a script of replies) and the sub-model (a fixed answer), with
    simulated latency. One instance serves one completion; thread-safe."""

    def __init__(
        self, replies: list[str] | None = None, root_latency: float = 0.0, sub_latency: float = 0.0
    ):
        self.replies = list(replies or [])
        self.root_latency = root_latency
        self.sub_latency = sub_latency
        self.root_calls = 0
        self.sub_calls = 0
        self._lock = threading.Lock()

    def root_reply(self) -> str:
        with self._lock:
            index = self.root_calls
            self.root_calls += 1
        if self.root_latency:
            time.sleep(self.root_latency)
        # Past the script (the engine asking for a best answer), say so plainly.
        return self.replies[index] if index < len(self.replies) else "out of script"

    def sub_reply(self) -> str:
        with self._lock:
            self.sub_calls += 1
        if self.sub_latency:
            time.sleep(self.sub_latency)
        return "ok"

    def __call__(self, prompt: object) -> str:
        return self.sub_reply() if is_sub_call(prompt) else self.root_reply()


def overhead_model(
    iterations: int, batch: int, root_latency: float, sub_latency: float
) -> SimModel:
    replies = [overhead_reply(i, iterations, batch) for i in range(iterations)]
    return SimModel(replies, root_latency, sub_latency)
