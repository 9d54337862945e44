"""Batch runs: many RLM tasks from a JSONL file (or a list), on local processes or Ray.

    from rlm import batch
    report = batch.run("tasks.jsonl", "out.jsonl", backend="openai",
                       backend_kwargs={"model_name": "gpt-5-mini"}, workers=4)

See docs/batch.md for the line formats.
"""

from rlm.batch.engines import ENGINES, LocalEngine, RayEngine
from rlm.batch.runner import BatchReport, run
from rlm.batch.tasks import TASK_SETTINGS, BatchInputError, BatchTask, finished_ids, read_tasks

__all__ = [
    "ENGINES",
    "TASK_SETTINGS",
    "BatchInputError",
    "BatchReport",
    "BatchTask",
    "LocalEngine",
    "RayEngine",
    "finished_ids",
    "read_tasks",
    "run",
]
