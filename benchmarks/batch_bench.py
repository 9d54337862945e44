"""`python -m benchmarks batch`: 1,000 tasks with a simulated 50 ms model, on the local engine
(worker processes) and on Ray (a local runtime), at the same concurrency.

Each task is a real RLM run in the `local` REPL: the root model (a function that sleeps
`latency` seconds per call) writes one cell over the task's context, then answers with
FINAL_VAR. Ideal wall time = tasks x calls x latency / concurrency; the overhead per task is
what the engine adds on top of that, per task and slot.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import header, markdown_table, write_results

CALLS_PER_TASK = 2


def sleepy_model(messages: list[dict[str, Any]], sampling: dict[str, Any]) -> str:
    """The simulated model: `latency` seconds per call, then a cell or the final answer."""
    time.sleep(sampling.get("latency", 0.05))
    if any(m["role"] == "assistant" for m in messages):
        return "FINAL_VAR(n)"
    return "```repl\nn = len(context)\n```"


def tasks(count: int) -> list[dict[str, Any]]:
    return [{"id": f"t{i}", "query": "How long is the context?", "context": "x" * (i % 97)}
            for i in range(count)]  # fmt: skip


def measure(engine: str, count: int, concurrency: int, latency: float) -> dict[str, Any]:
    from rlm import batch

    options: dict[str, Any] = {"workers": concurrency}
    if engine == "ray":
        # A 2-CPU runtime; a task reserves 2/concurrency CPU so `concurrency` run at once.
        options.update(ray_num_cpus=2, task_cpus=2 / concurrency)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.jsonl"
        first: list[float] = []
        options["on_result"] = lambda line: first or first.append(time.perf_counter())
        start = time.perf_counter()
        report = batch.run(tasks(count), out, engine=engine, backend="function",
                           backend_kwargs={"function": sleepy_model,
                                           "sampling_args": {"latency": latency}},
                           environment="local", **options)  # fmt: skip
        wall = time.perf_counter() - start
    assert report.failed == 0, report.results[:3]
    assert all(line["response"] == str(int(line["id"][1:]) % 97) for line in report.results)
    ideal = count * CALLS_PER_TASK * latency / concurrency
    return {
        "engine": engine,
        "tasks": count,
        "concurrency": concurrency,
        "wall_s": wall,
        "ideal_s": ideal,
        "tasks_per_s": count / wall,
        "ideal_tasks_per_s": count / ideal,
        "overhead_ms_per_task": (wall - ideal) * concurrency / count * 1000,
        "wall_over_ideal": wall / ideal,
        # Engine start (processes / the Ray runtime) until the first line is in, then the
        # steady rate of the other tasks.
        "first_result_s": first[0] - start,
        "steady_tasks_per_s": (count - 1) / (start + wall - first[0]),
    }


def main(count: int, concurrency: int, latency: float, engines: list[str], name: str,
         command: str) -> None:  # fmt: skip
    rows = []
    for engine in engines:
        print(f"batch: {engine} engine, {count} tasks, concurrency {concurrency} ...", flush=True)
        rows.append(measure(engine, count, concurrency, latency))
        print(f"  {rows[-1]['tasks_per_s']:.1f} tasks/s, {rows[-1]['wall_over_ideal']:.2f}x ideal")
    meta = header("batch", command=command, latency_s=latency, calls_per_task=CALLS_PER_TASK,
                  title="Batch runs: local processes vs Ray",
                  notes="Wall time includes starting the engine (worker processes; the Ray "
                  "runtime). Overhead per task = (wall - ideal) x concurrency / tasks.")  # fmt: skip
    table = markdown_table(
        ["engine", "tasks", "concurrency", "wall s", "ideal s", "tasks/s", "ideal tasks/s",
         "overhead ms/task", "wall/ideal", "first line s", "steady tasks/s"],
        [[r["engine"], r["tasks"], r["concurrency"], r["wall_s"], r["ideal_s"], r["tasks_per_s"],
          r["ideal_tasks_per_s"], r["overhead_ms_per_task"], r["wall_over_ideal"],
          r["first_result_s"], r["steady_tasks_per_s"]] for r in rows],
    )  # fmt: skip
    json_path, md_path = write_results(name, meta, rows, table)
    print(table)
    print(f"wrote {json_path} and {md_path}")
