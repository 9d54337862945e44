"""`rlm.batch.run`: skip what the output already has, run the rest on an engine, append each
output line (flushed) the moment its task finishes, so an interrupted batch loses nothing."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlm.batch.engines import make_engine
from rlm.batch.tasks import BatchTask, check_unique, finished_ids, read_tasks, task_from


@dataclass
class BatchReport:
    """What one `run` did: the lines it produced (in finishing order), and counts."""

    results: list[dict[str, Any]] = field(default_factory=list)
    skipped: int = 0
    failed: int = 0
    total_cost: float | None = None
    elapsed: float = 0.0

    @property
    def completed(self) -> int:
        return len(self.results) - self.failed


def line_cost(line: dict[str, Any]) -> float | None:
    usage = line.get("usage") or {}
    cost = usage.get("total_cost") if isinstance(usage, dict) else None
    return cost if isinstance(cost, (int, float)) else None


def _ends_torn(path: Path) -> bool:
    with path.open("rb") as handle:
        if handle.seek(0, os.SEEK_END) == 0:
            return False
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) != b"\n"


def _tasks(tasks: Iterable[Any] | str | os.PathLike[str]) -> list[BatchTask]:
    if isinstance(tasks, (str, os.PathLike)):
        return read_tasks(tasks)
    return check_unique(task_from(t, f"task {i}") for i, t in enumerate(tasks))


def run(
    tasks: Iterable[BatchTask | dict[str, Any]] | str | os.PathLike[str],
    output: str | os.PathLike[str] | None = None,
    *,
    engine: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    ray_num_cpus: int | None = None,
    task_cpus: float = 1.0,
    log_dir: str | os.PathLike[str] | None = None,
    retry_errors: bool = False,
    on_result: Callable[[dict[str, Any]], None] | None = None,
    on_start: Callable[[int, int], None] | None = None,
    **rlm_kwargs: Any,
) -> BatchReport:
    """Run every task (dicts, `BatchTask`s, or a JSONL path) with `RLM(**rlm_kwargs)` plus the
    task's own `settings`. With `output`, ids already there are skipped and each new line is
    appended and flushed. `rlm_kwargs` must be picklable: they travel to worker processes.

    `on_start(pending, skipped)` is called once before running, `on_result(line)` per line."""
    all_tasks = _tasks(tasks)
    done = finished_ids(output, retry_errors) if output is not None else set()
    pending = [t for t in all_tasks if t.id not in done]
    report = BatchReport(skipped=len(all_tasks) - len(pending))
    if on_start is not None:
        on_start(len(pending), report.skipped)
    if not pending:  # nothing to do: do not even start the engine (Ray is slow to start)
        return report
    start = time.perf_counter()
    out_file = None
    if output is not None:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        out_file = open(output, "a", encoding="utf-8")  # noqa: SIM115 - closed below
        if _ends_torn(Path(output)):
            out_file.write("\n")  # a crash cut the last line: start ours on a fresh one
    runner = make_engine(engine, workers=workers, ray_address=ray_address,
                         ray_num_cpus=ray_num_cpus, task_cpus=task_cpus)  # fmt: skip
    try:
        for line in runner.run(pending, rlm_kwargs, str(log_dir) if log_dir else None):
            if out_file is not None:
                out_file.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")
                out_file.flush()
            report.results.append(line)
            report.failed += line.get("error") is not None
            if (cost := line_cost(line)) is not None:
                report.total_cost = (report.total_cost or 0.0) + cost
            if on_result is not None:
                on_result(line)
    finally:
        runner.close()
        if out_file is not None:
            out_file.close()
        report.elapsed = time.perf_counter() - start
    return report
