"""Read trajectory logs (ours and the reference implementation's) into runs.

A log file is JSON lines. Ours hold one completion per file: a `metadata` line, then one
`iteration` line per iteration. The reference implementation's logger writes `metadata`
once and then, per completion, a `run_context` line followed by that completion's
iterations, so one file may hold several runs. A `.json` file holding an in-memory
trajectory (`{"run_metadata": ..., "iterations": [...]}`, what `result.metadata` holds) is
one run too.

Runs are addressed by an id made from the file's path relative to the scanned root (plus
`#N` when the file holds more than one run), never by a path the client sends, so the viewer
cannot be talked into reading files outside the log directory.
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from rlm._bounded import number as _num
from rlm._bounded import preview
from rlm.errors import LogFormatError

LOG_SUFFIXES = (".jsonl", ".json")
_TURN_FILE = re.compile(r"turn(\d+)_")


@dataclass
class Run:
    """One completion's trajectory, as read from a log."""

    file: Path
    index: int  # position of this run inside its file
    metadata: dict[str, Any] = field(default_factory=dict)
    run_context: dict[str, Any] | None = None
    iterations: list[dict[str, Any]] = field(default_factory=list)
    result: dict[str, Any] | None = None  # our engine's closing `result` line
    extra: list[dict[str, Any]] = field(default_factory=list)  # lines of other types
    warnings: list[str] = field(default_factory=list)
    id: str = ""

    def summary(self) -> dict[str, Any]:
        totals = trajectory_totals(self.iterations)
        final = next(
            (it.get("final_answer") for it in reversed(self.iterations) if it.get("final_answer")),
            None,
        )
        error = None
        finish_reason = None
        if self.result is not None:
            # The result line is authoritative: it counts the whole tree, including calls
            # made after the last iteration (the closing "best answer" call).
            final = self.result.get("response") or final
            error = self.result.get("error")
            finish_reason = self.result.get("finish_reason")
            whole = call_totals(self.result)
            if whole["input_tokens"] or whole["output_tokens"]:
                totals["input_tokens"] = int(whole["input_tokens"])
                totals["output_tokens"] = int(whole["output_tokens"])
                totals["cost"] = whole["cost"]
            if isinstance(self.result.get("execution_time"), (int, float)):
                totals["time"] = float(self.result["execution_time"])
        return {
            "id": self.id,
            "file": str(self.file),
            "index": self.index,
            "timestamp": (self.run_context or {}).get("timestamp")
            or self.metadata.get("timestamp")
            or (self.iterations[0].get("timestamp") if self.iterations else None),
            "root_model": self.metadata.get("root_model")
            or (self.metadata.get("backend_kwargs") or {}).get("model_name"),
            "backend": self.metadata.get("backend"),
            "prompt": _preview(self.prompt(), 300),
            "final_answer": None if final is None else _preview(final, 300),
            "iterations": len(self.iterations),
            "error": error,
            "finish_reason": finish_reason,
            "finished": self.result is not None or final is not None,
            **totals,
            **session_of(self.file),
        }

    def prompt(self) -> Any:
        """The user's query/context as best the log tells it."""
        for source in (self.run_context or {}, self.metadata):
            for key in ("root_prompt", "prompt", "query"):
                if source.get(key):
                    return source[key]
        return None

    @cached_property
    def search_text(self) -> str:
        """Everything in the run, lowercased, for the viewer's full-text filter. Cached: a
        changed file is parsed into new `Run` objects."""
        return json.dumps(self.to_dict(), default=str, ensure_ascii=False).lower()

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary(),
            "metadata": self.metadata,
            "run_context": self.run_context,
            "iterations": self.iterations,
            "result": self.result,
            "extra": self.extra,
            "warnings": self.warnings,
        }


def session_of(path: Path) -> dict[str, Any]:
    """{"session", "turn"} for a chat turn's log (`.../sessions/<name>/turnNNNN_*.jsonl`,
    as `rlm chat` and AgentRLM write them), else {}."""
    parts = path.parts
    turn = _TURN_FILE.match(path.name)
    if turn is None or len(parts) < 3 or parts[-3] != "sessions":
        return {}
    return {"session": parts[-2], "turn": int(turn.group(1))}


def _preview(value: Any, limit: int) -> str:
    return preview(value if isinstance(value, str) else json.dumps(value, default=str), limit)


def call_totals(call: dict[str, Any]) -> dict[str, float]:
    """Tokens and cost of one sub-call record (an RLMChatCompletion dict)."""
    summaries = (call.get("usage_summary") or {}).get("model_usage_summaries") or {}
    out = {"input_tokens": 0.0, "output_tokens": 0.0, "cost": 0.0}
    for s in summaries.values():
        out["input_tokens"] += _num(s.get("total_input_tokens"))
        out["output_tokens"] += _num(s.get("total_output_tokens"))
        out["cost"] += _num(s.get("total_cost"))
    return out


def iteration_totals(it: dict[str, Any]) -> dict[str, float]:
    """Tokens and cost of one iteration: the root call's own usage plus its sub-calls'."""
    usage = it.get("usage") or {}
    out = {
        "input_tokens": _num(usage.get("input_tokens")),
        "output_tokens": _num(usage.get("output_tokens")),
        "cost": _num(usage.get("cost")),
        "subcalls": 0,
    }
    for block in it.get("code_blocks") or []:
        for call in (block.get("result") or {}).get("rlm_calls") or []:
            out["subcalls"] += 1
            for key, value in call_totals(call).items():
                out[key] += value
    return out


def trajectory_totals(iterations: list[dict[str, Any]]) -> dict[str, Any]:
    totals = {"input_tokens": 0.0, "output_tokens": 0.0, "cost": 0.0, "subcalls": 0}
    time = 0.0
    for it in iterations:
        for key, value in iteration_totals(it).items():
            totals[key] += value
        time += _num(it.get("iteration_time"))
    return {
        "input_tokens": int(totals["input_tokens"]),
        "output_tokens": int(totals["output_tokens"]),
        "cost": totals["cost"],
        "subcalls": int(totals["subcalls"]),
        "time": time,
    }


def _read_lines(path: Path) -> list[tuple[int, dict[str, Any]]]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise LogFormatError(f"{path}: cannot read the log ({exc.strerror or exc})") from exc
    if b"\x00" in raw[:8192]:
        raise LogFormatError(f"{path}: binary data, not a JSONL trajectory log")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LogFormatError(f"{path}: not UTF-8 text, not a trajectory log") from exc
    lines = text.split("\n")  # not splitlines(): U+2028 or U+0085 is no line end here
    out: list[tuple[int, dict[str, Any]]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            # A writer killed mid-line leaves a truncated last line; everything before it is
            # intact (lines are flushed one by one), so keep it and say what was dropped.
            if number == len(lines) and not text.endswith("\n") and out:
                out.append((number, {"type": "_truncated", "error": str(exc)}))
                continue
            raise LogFormatError(
                f"{path}:{number}: not valid JSON ({exc.msg}); a trajectory log has one JSON "
                "object per line"
            ) from exc
        if not isinstance(value, dict):
            raise LogFormatError(
                f"{path}:{number}: expected a JSON object, got {type(value).__name__}"
            )
        out.append((number, value))
    return out


def _trajectory_run(path: Path, data: dict[str, Any]) -> Run:
    iterations = data.get("iterations")
    if not isinstance(iterations, list):
        raise LogFormatError(f"{path}: a .json trajectory needs an 'iterations' list")
    meta = data.get("run_metadata") or {}
    result = data.get("result")
    return Run(
        file=path,
        index=0,
        metadata=dict(meta) if isinstance(meta, dict) else {},
        iterations=[i for i in iterations if isinstance(i, dict)],
        result=result if isinstance(result, dict) else None,
    )


def read_log(path: str | os.PathLike[str]) -> list[Run]:
    """Every run in one log file. Raises `LogFormatError` when it is not a trajectory log."""
    path = Path(path)
    if path.suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise LogFormatError(f"{path}: not a JSON trajectory ({exc})") from exc
        if not isinstance(data, dict):
            raise LogFormatError(f"{path}: expected a JSON object with 'iterations'")
        return [_trajectory_run(path, data)]

    runs: list[Run] = []
    file_meta: dict[str, Any] = {}
    current: Run | None = None

    def start(meta: dict[str, Any]) -> Run:
        run = Run(file=path, index=len(runs), metadata=meta)
        runs.append(run)
        return run

    for number, line in _read_lines(path):
        kind = line.get("type")
        if kind is None and "code_blocks" in line:
            kind = "iteration"  # tolerate writers that omit the type
        if kind == "metadata":
            file_meta = {k: v for k, v in line.items() if k != "type"}
            if current is None or current.iterations or current.metadata:
                current = start(file_meta)
            else:
                current.metadata = file_meta
        elif kind == "run_context":
            if current is None or current.iterations or current.run_context or current.result:
                current = start(file_meta)
            current.run_context = {k: v for k, v in line.items() if k != "type"}
        elif kind == "iteration":
            if current is None or current.result is not None:
                current = start(file_meta)  # iterations after a result belong to a new run
            current.iterations.append(line)
        elif kind == "result":
            if current is None:
                current = start(file_meta)
            current.result = {k: v for k, v in line.items() if k != "type"}
        elif kind == "_truncated":
            if current is None:
                current = start(file_meta)
            current.warnings.append(f"line {number} is truncated and was skipped")
        else:
            if current is None:
                current = start(file_meta)
            current.extra.append(line)
    if not runs or all(not r.metadata and not r.iterations for r in runs):
        raise LogFormatError(
            f"{path}: no trajectory in it (expected 'metadata' and 'iteration' lines)"
        )
    return runs


@dataclass
class LogStore:
    """The runs found under a log directory (or in one file), re-scanned on demand."""

    root: Path
    errors: dict[str, str] = field(default_factory=dict)  # file -> why it was skipped
    # path -> ((mtime_ns, size), runs or the error): a file is parsed again only when it
    # changes, so a viewer over a large log directory stays fast and still sees live runs.
    _cache: dict[Path, tuple[tuple[int, int], list[Run] | LogFormatError]] = field(
        default_factory=dict, repr=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def files(self) -> list[Path]:
        if self.root.is_file():
            return [self.root]
        found = [
            p
            for p in self.root.rglob("*")
            if p.suffix in LOG_SUFFIXES and p.is_file() and not p.name.startswith(".")
        ]
        return sorted(found, key=_mtime_then_name, reverse=True)

    def _rel(self, path: Path) -> str:
        if self.root.is_file():
            return path.name
        return path.relative_to(self.root).as_posix()

    def runs(self) -> list[Run]:
        """All runs, newest first. Files that are not logs are recorded in `errors`."""
        with self._lock:  # the viewer serves requests from several threads
            return self._scan()

    def _scan(self) -> list[Run]:
        self.errors = {}
        out: list[Run] = []
        for path in self.files():
            rel = self._rel(path)
            if _is_empty_file(path):
                # Opened but nothing written yet (a run starting, or a depth-0 plain call):
                # not a broken log, just nothing to show.
                continue
            parsed = self._read(path)
            if isinstance(parsed, LogFormatError):
                self.errors[rel] = str(parsed).replace(str(path), rel)
                continue
            runs = parsed
            for run in runs:
                run.id = rel if len(runs) == 1 else f"{rel}#{run.index + 1}"
            out.extend(runs)
        # Newest first by the time the run started; files without timestamps keep file order.
        out.sort(key=lambda r: str(r.summary()["timestamp"] or ""), reverse=True)
        return out

    def _read(self, path: Path) -> list[Run] | LogFormatError:
        try:
            st = path.stat()
        except OSError as exc:
            return LogFormatError(f"{path}: cannot read the log ({exc.strerror or exc})")
        key = (st.st_mtime_ns, st.st_size)
        cached = self._cache.get(path)
        if cached is not None and cached[0] == key:
            return cached[1]
        try:
            parsed: list[Run] | LogFormatError = read_log(path)
        except LogFormatError as exc:
            parsed = exc
        self._cache[path] = (key, parsed)
        return parsed

    def get(self, run_id: str) -> Run | None:
        for run in self.runs():
            if run.id == run_id:
                return run
        return None


def _mtime_then_name(path: Path) -> tuple[float, str]:
    try:
        return (path.stat().st_mtime, path.name)
    except OSError:  # deleted while scanning: sorts last, then fails to read with a message
        return (0.0, path.name)


def _is_empty_file(path: Path) -> bool:
    try:
        return path.stat().st_size == 0
    except OSError:
        return False  # let the read report it
