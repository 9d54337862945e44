"""One task, run where the engine put it (a worker process or a Ray task): build the RLM,
load the context, answer, and return a JSON-ready output line. Never raises for a task's own
failure: the error becomes the line, so one bad task cannot stop the batch."""

from __future__ import annotations

import re
import time
import traceback
from pathlib import Path
from typing import Any

from rlm.batch.tasks import merge_settings


def _load_context(task: dict[str, Any]) -> Any:
    path = task.get("context_path")
    if path is None:
        return task.get("context") if task.get("context") is not None else task["query"]
    from rlm.cli.context import load_context  # files, directories and globs, like `rlm run -c`

    return load_context([path]).value


def run_task(task: dict[str, Any], base_kwargs: dict[str, Any], log_dir: str | None) -> dict:
    """The output line for `task` (a `BatchTask.to_dict()`)."""
    from rlm import RLM
    from rlm.errors import LimitExceededError, RLMError
    from rlm.logger import RLMLogger

    start = time.perf_counter()
    line: dict[str, Any] = {"id": task["id"]}
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", task["id"])[:60]
    logger = RLMLogger(log_dir=Path(log_dir), file_name=f"batch-{safe}") if log_dir else None
    rlm = None
    try:
        context = _load_context(task)
        rlm = RLM(**merge_settings(base_kwargs, task.get("settings") or {}), logger=logger)
        result = rlm.completion(context, root_prompt=task["query"])
    except LimitExceededError as exc:
        line.update(error=str(exc), error_type=type(exc).__name__,
                    partial_answer=exc.partial_answer, finish_reason="limit")  # fmt: skip
    except RLMError as exc:
        line.update(error=str(exc), error_type=type(exc).__name__)
    except Exception as exc:  # a bug or a bad setting type: report it on the task's line
        line.update(error=f"{type(exc).__name__}: {exc}", error_type=type(exc).__name__,
                    traceback=traceback.format_exc(limit=5))  # fmt: skip
    else:
        line.update(
            response=result.response,
            # The run's own finish reason ("final", "max_iterations", "loop", ...: see
            # docs/answers.md); "stop" only for a result that does not say.
            finish_reason=getattr(result, "finish_reason", None) or "stop",
            usage=result.usage_summary.to_dict(),
        )
        if result.error:
            line["run_error"] = result.error
    finally:
        if rlm is not None:
            rlm.close()
    line["time"] = round(time.perf_counter() - start, 6)
    line["log_path"] = getattr(logger, "log_file_path", None)
    return line
