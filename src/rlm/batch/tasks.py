"""Batch task lines: parse and validate the input, merge per-task settings, resume from output.

One input line is a JSON object: `id`, `query`, `context` or `context_path`, and optional
`settings` (RLM keyword arguments for this task only, over the batch's own). Problems are
reported with the line number before anything runs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlm.errors import ConfigurationError

# RLM keywords a task may set for itself (JSON values only: no objects, loggers or callables).
TASK_SETTINGS: frozenset[str] = frozenset(
    {
        "backend",
        "backend_kwargs",
        "model",
        "environment",
        "environment_kwargs",
        "max_depth",
        "max_iterations",
        "max_budget",
        "max_timeout",
        "max_tokens",
        "max_errors",
        "other_backends",
        "other_backend_kwargs",
        "custom_system_prompt",
        "max_concurrent_subcalls",
        "sampling_args",
        "sub_sampling_args",
    }
)
# Merged key by key instead of replaced, so a task can add one client option.
_DICT_SETTINGS = ("backend_kwargs", "environment_kwargs", "sampling_args", "sub_sampling_args")
_TASK_KEYS = frozenset({"id", "query", "context", "context_path", "settings"})


class BatchInputError(ConfigurationError):
    """A task line cannot be run; the message names the line and what to fix."""


@dataclass
class BatchTask:
    id: str
    query: str
    context: Any = None
    context_path: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "query": self.query,
            "context": self.context,
            "context_path": self.context_path,
            "settings": self.settings,
        }


def task_from(data: Any, where: str, base_dir: Path | None = None) -> BatchTask:
    """Validate one task (a dict from a JSONL line or the Python API)."""
    if isinstance(data, BatchTask):
        return data
    if not isinstance(data, dict):
        raise BatchInputError(f"{where}: a task must be a JSON object, not {type(data).__name__}")
    unknown = sorted(set(data) - _TASK_KEYS)
    if unknown:
        raise BatchInputError(
            f"{where}: unknown key(s) {unknown}; a task has {sorted(_TASK_KEYS)} "
            "(RLM options go inside 'settings')"
        )
    task_id = data.get("id")
    if isinstance(task_id, int) and not isinstance(task_id, bool):
        task_id = str(task_id)
    if not isinstance(task_id, str) or not task_id:
        raise BatchInputError(f"{where}: 'id' must be a non-empty string (or an integer)")
    query = data.get("query")
    if not isinstance(query, str) or not query.strip():
        raise BatchInputError(f"{where} (id {task_id!r}): 'query' must be a non-empty string")
    has_context, path = "context" in data, data.get("context_path")
    if has_context and path is not None:
        raise BatchInputError(
            f"{where} (id {task_id!r}): give 'context' or 'context_path', not both"
        )
    if path is not None:
        if not isinstance(path, str) or not path:
            raise BatchInputError(f"{where} (id {task_id!r}): 'context_path' must be a path string")
        resolved = Path(path).expanduser()
        if not resolved.is_absolute() and base_dir is not None:
            resolved = base_dir / resolved  # relative to the input file, not the shell's cwd
        path = str(resolved)
    context = data.get("context")
    if has_context and not isinstance(context, (str, dict, list)):
        raise BatchInputError(
            f"{where} (id {task_id!r}): 'context' must be a string, object or array"
        )
    settings = data.get("settings") or {}
    if not isinstance(settings, dict):
        raise BatchInputError(f"{where} (id {task_id!r}): 'settings' must be an object")
    bad = sorted(set(settings) - TASK_SETTINGS)
    if bad:
        raise BatchInputError(
            f"{where} (id {task_id!r}): settings {bad} cannot be set per task; "
            f"allowed: {sorted(TASK_SETTINGS)}"
        )
    return BatchTask(task_id, query, context, path, dict(settings))


def read_tasks(path: str | os.PathLike[str]) -> list[BatchTask]:
    """Every task of a JSONL file, validated; duplicate ids are an error."""
    source = Path(path)
    try:
        lines = source.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BatchInputError(f"cannot read the batch input {source}: {exc}") from exc
    tasks = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BatchInputError(
                f"{where}: not valid JSON ({exc.msg}, column {exc.colno})"
            ) from exc
        tasks.append(task_from(data, where, source.parent.resolve()))
    return check_unique(tasks)


def check_unique(tasks: Iterable[BatchTask]) -> list[BatchTask]:
    seen: set[str] = set()
    out = []
    for task in tasks:
        if task.id in seen:
            raise BatchInputError(f"task id {task.id!r} appears twice; ids must be unique")
        seen.add(task.id)
        out.append(task)
    return out


def finished_ids(output: str | os.PathLike[str], retry_errors: bool = False) -> set[str]:
    """Ids that already have a line in `output` (resume). With `retry_errors`, ids whose last
    line is an error are not counted as finished. A torn last line (crash mid-write) is
    ignored: its task runs again."""
    path = Path(output)
    if not path.exists():
        return set()
    status: dict[str, bool] = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict) and isinstance(row.get("id"), str):
                status[row["id"]] = row.get("error") is None
    return {task_id for task_id, ok in status.items() if ok or not retry_errors}


def merge_settings(base: dict[str, Any], task: dict[str, Any]) -> dict[str, Any]:
    """RLM keyword arguments for one task: the batch's, with the task's on top."""
    merged = dict(base)
    for key, value in task.items():
        if key in _DICT_SETTINGS and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **(value or {})}
        else:
            merged[key] = value
    model = merged.pop("model", None)
    if model:
        merged["backend_kwargs"] = {**merged.get("backend_kwargs", {}), "model_name": model}
    return merged


def iter_pending(tasks: Iterable[BatchTask], done: set[str]) -> Iterator[BatchTask]:
    return (task for task in tasks if task.id not in done)
