"""`Trace`: a run as a flat list of steps (root calls, REPL executions, sub-calls), the shape
pyrlm-runtime users know, with `to_json` / `Trace.from_json`.

It is built from the trajectory the logger records (`RunRecorder`: the same dicts written to
the JSONL log), never from a second bookkeeping of its own, so a trace and a log of the same
run always agree. `Trace.from_log(path)` rebuilds one from a log file. Ground floor: imports
nothing of ours.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Trace", "TraceStep"]

SUMMARY_CHARS = 200

# kind at depth 0 -> kind inside a child run (pyrlm-runtime's names)
_NESTED = {"root_call": "sub_root_call", "repl_exec": "sub_repl_exec", "subcall": "sub_subcall"}


@dataclass
class TraceStep:
    step_id: int
    kind: str  # root_call, repl_exec, subcall, recursive_subcall, sub_*, baseline_call
    depth: int = 0
    prompt_summary: str | None = None
    code: str | None = None
    output: str | None = None  # a model's reply, or a sub-call's answer
    stdout: str | None = None
    error: str | None = None
    tokens: int = 0  # input + output tokens of this step's own model call(s)
    model: str | None = None
    elapsed: float | None = None


@dataclass
class Trace:
    steps: list[TraceStep] = field(default_factory=list)

    @property
    def tokens(self) -> int:
        return sum(step.tokens for step in self.steps)

    def of_kind(self, kind: str) -> list[TraceStep]:
        return [step for step in self.steps if step.kind == kind]

    def __len__(self) -> int:
        return len(self.steps)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps([asdict(s) for s in self.steps], ensure_ascii=False, indent=indent)

    @classmethod
    def from_json(cls, raw: str) -> Trace:
        known = set(TraceStep.__dataclass_fields__)
        return cls(
            [TraceStep(**{k: v for k, v in item.items() if k in known}) for item in json.loads(raw)]
        )

    # -- from the recorded trajectory ------------------------------------------------------
    @classmethod
    def from_trajectory(cls, trajectory: dict[str, Any] | None) -> Trace:
        """From `result.metadata` / `RunRecorder.trajectory()`: {"iterations": [...], ...}."""
        trace = cls()
        if not trajectory:
            return trace
        if trajectory.get("iterations"):
            _Builder(trace).run(trajectory, depth=0)
        elif trajectory.get("result"):  # a plain call (max_depth=0): no iterations
            _Builder(trace).plain(trajectory)
        return trace

    @classmethod
    def from_log(cls, path: str | os.PathLike[str]) -> Trace:
        """From a JSONL trajectory log written by `RLMLogger` (its first run)."""
        trajectory: dict[str, Any] = {"iterations": []}
        with open(path, encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                entry = json.loads(line)
                if entry.get("type") == "metadata" and "run_metadata" in trajectory:
                    break  # a second run in the same file
                if entry.get("type") == "metadata":
                    trajectory["run_metadata"] = entry
                elif entry.get("type") == "iteration":
                    trajectory["iterations"].append(entry)
                elif entry.get("type") == "result":
                    trajectory["result"] = entry
        return cls.from_trajectory(trajectory)


class _Builder:
    def __init__(self, trace: Trace):
        self.trace = trace

    def add(self, kind: str, depth: int, **fields: Any) -> None:
        if depth > 0:
            kind = _NESTED.get(kind, kind)
        self.trace.steps.append(TraceStep(len(self.trace.steps) + 1, kind, depth, **fields))

    def run(self, trajectory: dict[str, Any], depth: int) -> None:
        model = (trajectory.get("run_metadata") or {}).get("root_model")
        for it in trajectory.get("iterations") or []:
            usage = it.get("usage") or {}
            self.add(
                "root_call",
                depth,
                output=it.get("response"),
                tokens=_int(usage.get("input_tokens")) + _int(usage.get("output_tokens")),
                model=usage.get("model") or model,
                elapsed=it.get("iteration_time"),
            )
            for block in it.get("code_blocks") or []:
                result = block.get("result") or {}
                self.add(
                    "repl_exec",
                    depth,
                    code=block.get("code"),
                    stdout=result.get("stdout"),
                    error=result.get("stderr") or None,
                    elapsed=result.get("execution_time"),
                )
                for call in result.get("rlm_calls") or []:
                    self.subcall(call, depth)

    def plain(self, trajectory: dict[str, Any]) -> None:
        result = trajectory["result"]
        summaries = (result.get("usage_summary") or {}).get("model_usage_summaries") or {}
        self.add(
            "root_call",
            0,
            output=result.get("response"),
            error=result.get("error"),
            tokens=_tokens(summaries),
            model=(trajectory.get("run_metadata") or {}).get("root_model"),
            elapsed=result.get("execution_time"),
        )

    def subcall(self, call: dict[str, Any], depth: int) -> None:
        child = call.get("metadata") or {}
        nested = bool(child.get("iterations"))
        summaries = (call.get("usage_summary") or {}).get("model_usage_summaries") or {}
        tokens = _tokens(summaries)
        self.add(
            "recursive_subcall" if nested else "subcall",
            depth,
            prompt_summary=_summary(call.get("prompt")),
            output=call.get("response"),
            error=call.get("error"),
            # A child run's own steps carry its tokens; counting them here too would double.
            tokens=0 if nested else tokens,
            model=call.get("root_model"),
            elapsed=call.get("execution_time"),
        )
        if nested:
            self.run(child, depth + 1)


def _summary(prompt: Any) -> str | None:
    if prompt is None:
        return None
    text = prompt if isinstance(prompt, str) else json.dumps(prompt, default=str)
    return text if len(text) <= SUMMARY_CHARS else text[:SUMMARY_CHARS] + "..."


def _tokens(summaries: dict[str, Any]) -> int:
    return sum(
        _int(s.get("total_input_tokens")) + _int(s.get("total_output_tokens"))
        for s in summaries.values()
    )


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0
