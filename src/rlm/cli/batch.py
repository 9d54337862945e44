"""`rlm batch INPUT.jsonl --output OUT.jsonl`: many tasks, resumable, with a progress bar."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from rlm.cli.options import rlm_flags, rlm_kwargs_from_flags
from rlm.errors import ConfigurationError, RLMError


class _Bar:
    """A rich progress bar: done/total, tasks per second, failures and cost so far."""

    def __init__(self, console: Console, enabled: bool):
        self.enabled = enabled
        self.failed = 0
        self.cost: float | None = None
        self.start = time.perf_counter()
        self._progress = Progress(
            TextColumn("batch"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"), TextColumn("{task.fields[extra]}"),
            TimeElapsedColumn(), console=console, disable=not enabled,
        )  # fmt: skip
        self._task: Any = None

    def start_run(self, pending: int, skipped: int) -> None:
        if skipped:
            self._progress.console.print(f"skipping {skipped} task(s) already in the output")
        self.start = time.perf_counter()
        self._progress.start()
        self._task = self._progress.add_task("batch", total=pending, rate="", extra="")

    def result(self, line: dict[str, Any]) -> None:
        from rlm.batch.runner import line_cost

        self.failed += line.get("error") is not None
        if (cost := line_cost(line)) is not None:
            self.cost = (self.cost or 0.0) + cost
        done = self._progress.tasks[0].completed + 1
        rate = done / max(time.perf_counter() - self.start, 1e-9)
        extra = f"{self.failed} failed" if self.failed else ""
        if self.cost is not None:
            extra += f"  ${self.cost:.4f}"
        self._progress.update(self._task, advance=1, rate=f"{rate:.2f} tasks/s", extra=extra)

    def stop(self) -> None:
        self._progress.stop()


@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.argument("input_path", metavar="INPUT.jsonl", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Output JSONL (appended; ids already in it are skipped).")  # fmt: skip
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True)
@click.option("-w", "--workers", type=click.IntRange(min=1),
              help="local: worker processes (default: CPU count); ray: tasks in flight.")  # fmt: skip
@click.option("--ray-address", help="An existing Ray cluster (default: start a local runtime).")
@click.option("--ray-num-cpus", type=click.IntRange(min=1), help="CPUs of the local Ray runtime.")
@click.option("--task-cpus", type=click.FloatRange(min=0, min_open=True), default=1.0,
              show_default=True, help="Ray: CPUs reserved per task.")  # fmt: skip
@click.option("--retry-errors", is_flag=True, help="Run again the ids whose output line failed.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@rlm_flags
def batch(input_path: str, output: str, engine: str, workers: int | None,
          ray_address: str | None, ray_num_cpus: int | None, task_cpus: float,
          retry_errors: bool, quiet: bool, **flags: Any) -> None:  # fmt: skip
    """Run every task of INPUT.jsonl and append one line per task to --output.

    \b
    A task line: {"id": "q1", "query": "...", "context": "..." | "context_path": "doc.txt",
                  "settings": {"max_iterations": 10, ...}}
    An output line: {"id", "response", "finish_reason", "usage", "time", "log_path"}
                    or {"id", "error", "error_type", ...}
    \b
    Examples:
      rlm batch tasks.jsonl -o answers.jsonl --model gpt-5-mini --workers 4
      rlm batch tasks.jsonl -o answers.jsonl --engine ray --ray-address auto
    """
    from rlm.batch import run
    from rlm.batch.tasks import read_tasks

    err = Console(stderr=True, markup=False, highlight=False)
    try:
        tasks = read_tasks(input_path)
        rlm_kwargs, log_dir = rlm_kwargs_from_flags(flags)
    except ConfigurationError as exc:
        err.print(f"error: {exc}", style="red")
        sys.exit(2)
    bar = _Bar(err, enabled=not quiet)
    try:
        report = run(tasks, Path(output), engine=engine, workers=workers,
                     ray_address=ray_address, ray_num_cpus=ray_num_cpus, task_cpus=task_cpus,
                     log_dir=log_dir, retry_errors=retry_errors, on_start=bar.start_run,
                     on_result=bar.result, **rlm_kwargs)  # fmt: skip
    except KeyboardInterrupt:
        bar.stop()
        err.print(f"interrupted: finished lines are in {output}; run again to resume")
        sys.exit(130)
    except RLMError as exc:
        bar.stop()
        err.print(f"error: {exc}", style="red")
        sys.exit(2)
    bar.stop()
    rate = len(report.results) / report.elapsed if report.elapsed else 0.0
    cost = f", ${report.total_cost:.4f}" if report.total_cost is not None else ""
    err.print(f"done: {report.completed} ok, {report.failed} failed, {report.skipped} skipped "
              f"in {report.elapsed:.1f}s ({rate:.2f} tasks/s{cost}) -> {output}")  # fmt: skip
    sys.exit(1 if report.failed else 0)
