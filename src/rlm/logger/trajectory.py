"""Trajectories: a run's metadata, iterations and result, recorded as an `Observer`.

`RunRecorder` keeps one run in memory (children's trajectories are nested into their
sub-call records this way). `RLMLogger` also writes each completion to its own JSONL file in
the reference format, one flushed line at a time, so a crash loses nothing.
"""

from __future__ import annotations

import os
import threading
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from rlm._terminal import jsonl_line
from rlm.logger.observer import Observer
from rlm.types import RLMChatCompletion, RLMIteration


def _now() -> str:
    return datetime.now().isoformat()


class RunRecorder(Observer):
    """One run's trajectory in memory: {"run_metadata": ..., "iterations": [...]}.

    Each run (the root and every child) has its own recorder in its own observer group, so a
    child's iterations never land in its parent's file; they are nested into the parent's
    sub-call records instead."""

    def __init__(self) -> None:
        self.run_metadata: dict[str, Any] | None = None
        self.iterations: list[dict[str, Any]] = []
        self.result: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def run_started(self, depth: int, metadata: dict[str, Any]) -> None:
        self.run_metadata = dict(metadata)
        self._write({"type": "metadata", "timestamp": _now(), **self.run_metadata})

    def iteration_completed(self, depth: int, number: int, iteration: RLMIteration) -> None:
        with self._lock:
            entry = {
                "type": "iteration",
                "iteration": len(self.iterations) + 1,
                "timestamp": _now(),
                **iteration.to_dict(),
            }
            self.iterations.append(entry)
        self._write(entry)

    def run_finished(self, depth: int, result: RLMChatCompletion) -> None:
        summary = {
            "type": "result",
            "timestamp": _now(),
            "response": result.response,
            "usage_summary": result.usage_summary.to_dict(),
            "execution_time": result.execution_time,
            "error": result.error,
            "finish_reason": result.finish_reason,
        }
        self.result = summary
        self._write(summary)

    def trajectory(self) -> dict[str, Any] | None:
        if self.run_metadata is None:
            return None
        out: dict[str, Any] = {
            "run_metadata": self.run_metadata,
            "iterations": list(self.iterations),
        }
        if self.result is not None:
            out["result"] = {k: v for k, v in self.result.items() if k != "type"}
        return out

    def _write(self, entry: dict[str, Any]) -> None:
        """Recorders keep memory only; the file logger overrides this."""


class _FileRun(RunRecorder):
    def __init__(self, path: Path):
        super().__init__()
        self.path = path
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in run_finished

    def _write(self, entry: dict[str, Any]) -> None:
        line = jsonl_line(entry)  # model text may hold lone surrogates or U+2028
        with self._lock:
            if self._file.closed:
                return
            self._file.write(line + "\n")
            self._file.flush()

    def run_finished(self, depth: int, result: RLMChatCompletion) -> None:
        super().run_finished(depth, result)
        with self._lock:
            self._file.close()


class RLMLogger:
    """Give it to `RLM(logger=...)`. With `log_dir`, every completion gets its own JSONL file
    (`<file_name>_<timestamp>_<id>.jsonl`); without, trajectories are kept in memory only.
    Either way `result.metadata` holds the trajectory."""

    def __init__(self, log_dir: str | os.PathLike[str] | None = None, file_name: str = "rlm"):
        self.log_dir = Path(log_dir) if log_dir is not None else None
        self.file_name = file_name
        self.log_file_path: str | None = None
        self._last: RunRecorder | None = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)

    def open_run(self) -> RunRecorder:
        if self.log_dir is None:
            run: RunRecorder = RunRecorder()
        else:
            stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
            path = self.log_dir / f"{self.file_name}_{stamp}_{uuid.uuid4().hex[:8]}.jsonl"
            run = _FileRun(path)
            self.log_file_path = str(path)
        self._last = run
        return run

    def get_trajectory(self) -> dict[str, Any] | None:
        """The most recent completion's trajectory (reference-compatible)."""
        return self._last.trajectory() if self._last else None
