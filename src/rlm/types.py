"""Data types shared by the engine, clients, environments and logs (the ground floor: imports
nothing of ours; `rlm.core.types` is its public alias).

The public ones (`RLMChatCompletion`, `UsageSummary`, `ModelUsageSummary`, `REPLResult`,
`RLMIteration`, `CodeBlock`) keep the field names and `to_dict` shapes of the reference
implementation, so its logs and viewer keep working. `CallUsage` and `LMResponse` are ours:
every model call returns its own usage, so nothing is ever read back from shared state.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

__all__ = [
    "CallUsage",
    "CodeBlock",
    "LMResponse",
    "Message",
    "ModelUsageSummary",
    "Prompt",
    "QueryMetadata",
    "REPLResult",
    "RLMChatCompletion",
    "RLMIteration",
    "UsageSummary",
    "serialize_value",
]

Message = dict[str, Any]
Prompt = str | list[Message]


def serialize_value(value: Any, max_repr: int = 200) -> Any:
    """A JSON-safe, bounded rendering of a REPL value for logs.

    Long strings and containers are summarised (type, length, a short prefix) so a log never
    holds a whole context.
    """
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        if len(value) <= max_repr:
            return value
        return f"<str len={len(value)}: {value[:max_repr]!r}...>"
    if isinstance(value, ModuleType):
        return f"<module '{value.__name__}'>"
    if callable(value):
        return f"<{type(value).__name__} '{getattr(value, '__name__', '?')}'>"
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        try:
            text = repr(value)
        except Exception:  # a hostile __repr__ must not break logging
            text = f"<{type(value).__name__}>"
        if len(text) <= max_repr:
            return text
        return f"<{type(value).__name__} len={len(value)}: {text[:max_repr]}...>"
    try:
        text = repr(value)
    except Exception:
        return f"<{type(value).__name__}>"
    return text if len(text) <= max_repr else text[:max_repr] + "..."


@dataclass(frozen=True)
class CallUsage:
    """What one model call consumed. `cost` is USD, or None when unknown."""

    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float | None = None
    cached: bool = False

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost": self.cost,
            "cached": self.cached,
        }


@dataclass(frozen=True)
class LMResponse:
    """A model's answer together with that call's own usage."""

    text: str
    usage: CallUsage


@dataclass
class ModelUsageSummary:
    total_calls: int = 0
    total_input_tokens: int = 0
    total_output_tokens: int = 0
    total_cost: float | None = None
    cache_hits: int = 0

    def add(self, usage: CallUsage) -> None:
        self.total_calls += 1
        self.total_input_tokens += usage.input_tokens
        self.total_output_tokens += usage.output_tokens
        if usage.cost is not None:
            self.total_cost = (self.total_cost or 0.0) + usage.cost
        if usage.cached:
            self.cache_hits += 1

    def merge(self, other: ModelUsageSummary) -> None:
        self.total_calls += other.total_calls
        self.total_input_tokens += other.total_input_tokens
        self.total_output_tokens += other.total_output_tokens
        if other.total_cost is not None:
            self.total_cost = (self.total_cost or 0.0) + other.total_cost
        self.cache_hits += other.cache_hits

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "total_calls": self.total_calls,
            "total_input_tokens": self.total_input_tokens,
            "total_output_tokens": self.total_output_tokens,
        }
        if self.total_cost is not None:
            out["total_cost"] = self.total_cost
        if self.cache_hits:
            out["cache_hits"] = self.cache_hits
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelUsageSummary:
        return cls(
            total_calls=int(data.get("total_calls") or 0),
            total_input_tokens=int(data.get("total_input_tokens") or 0),
            total_output_tokens=int(data.get("total_output_tokens") or 0),
            total_cost=data.get("total_cost"),
            cache_hits=int(data.get("cache_hits") or 0),
        )


@dataclass
class UsageSummary:
    model_usage_summaries: dict[str, ModelUsageSummary] = field(default_factory=dict)

    @property
    def total_cost(self) -> float | None:
        costs = [
            s.total_cost for s in self.model_usage_summaries.values() if s.total_cost is not None
        ]
        return float(sum(costs)) if costs else None

    @property
    def total_input_tokens(self) -> int:
        return sum(s.total_input_tokens for s in self.model_usage_summaries.values())

    @property
    def total_output_tokens(self) -> int:
        return sum(s.total_output_tokens for s in self.model_usage_summaries.values())

    @property
    def total_tokens(self) -> int:
        return self.total_input_tokens + self.total_output_tokens

    @property
    def total_calls(self) -> int:
        return sum(s.total_calls for s in self.model_usage_summaries.values())

    @property
    def cache_hits(self) -> int:
        return sum(s.cache_hits for s in self.model_usage_summaries.values())

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model_usage_summaries": {
                model: s.to_dict() for model, s in self.model_usage_summaries.items()
            }
        }
        if self.total_cost is not None:
            out["total_cost"] = self.total_cost
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> UsageSummary:
        data = data or {}
        return cls(
            {
                model: ModelUsageSummary.from_dict(s)
                for model, s in (data.get("model_usage_summaries") or {}).items()
            }
        )


@dataclass
class RLMChatCompletion:
    """The result of `RLM.completion`, and the record of one sub-call made from the REPL."""

    root_model: str
    prompt: Any
    response: str
    usage_summary: UsageSummary
    execution_time: float
    metadata: dict[str, Any] | None = None
    error: str | None = None
    # How the run ended: "final", "auto_finalize", "max_iterations", "loop", "limit", "empty",
    # "unverified" or "plain" (documented in rlm.core.answers). None for records of other origins.
    finish_reason: str | None = None
    # An rlm.Trace of the run's steps, built from its recorded trajectory (not serialised:
    # it is derived from what the log holds; see rlm.trace).
    trace: Any = field(default=None, repr=False, compare=False)

    @property
    def answer_forced(self) -> bool:
        """True when the model did not give this answer as final (or there is none), or gave
        it unverified."""
        return self.finish_reason not in (None, "final", "auto_finalize", "plain")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "root_model": self.root_model,
            "prompt": self.prompt,
            "response": self.response,
            "usage_summary": self.usage_summary.to_dict(),
            "execution_time": self.execution_time,
        }
        if self.metadata is not None:
            out["metadata"] = self.metadata
        if self.error is not None:
            out["error"] = self.error
        if self.finish_reason is not None:
            out["finish_reason"] = self.finish_reason
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RLMChatCompletion:
        return cls(
            root_model=data.get("root_model", ""),
            prompt=data.get("prompt"),
            response=data.get("response", ""),
            usage_summary=UsageSummary.from_dict(data.get("usage_summary")),
            execution_time=float(data.get("execution_time") or 0.0),
            metadata=data.get("metadata"),
            error=data.get("error"),
            finish_reason=data.get("finish_reason"),
        )


@dataclass
class REPLResult:
    """What one code block produced. `locals` maps names to short JSON-safe renderings."""

    stdout: str = ""
    stderr: str = ""
    locals: dict[str, Any] = field(default_factory=dict)
    execution_time: float = 0.0
    rlm_calls: list[RLMChatCompletion] = field(default_factory=list)
    final_answer: str | None = None
    # Ours: characters dropped by the output cap, and whether the REPL state was lost
    # (a sandbox worker killed for a timeout or a crash).
    truncated_chars: int = 0
    state_lost: bool = False

    def __str__(self) -> str:  # the reference's rendering
        return (
            f"REPLResult(stdout={self.stdout}, stderr={self.stderr}, locals={self.locals}, "
            f"execution_time={self.execution_time}, rlm_calls={len(self.rlm_calls)})"
        )

    @property
    def llm_calls(self) -> list[RLMChatCompletion]:  # reference name
        return self.rlm_calls

    @property
    def had_error(self) -> bool:
        return bool(self.stderr.strip()) or self.state_lost

    def to_dict(self) -> dict[str, Any]:
        return {
            "stdout": self.stdout,
            "stderr": self.stderr,
            "locals": {k: serialize_value(v) for k, v in self.locals.items()},
            "execution_time": self.execution_time,
            "rlm_calls": [c.to_dict() for c in self.rlm_calls],
            "final_answer": self.final_answer,
        }


@dataclass
class CodeBlock:
    code: str
    result: REPLResult

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "result": self.result.to_dict()}


@dataclass
class RLMIteration:
    prompt: Any
    response: str
    code_blocks: list[CodeBlock] = field(default_factory=list)
    final_answer: str | None = None
    iteration_time: float | None = None
    usage: CallUsage | None = None  # the root call's own usage (ours; extra log key)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "prompt": self.prompt,
            "response": self.response,
            "code_blocks": [b.to_dict() for b in self.code_blocks],
            "final_answer": self.final_answer,
            "iteration_time": self.iteration_time,
        }
        if self.usage is not None:
            out["usage"] = self.usage.to_dict()
        return out


@dataclass
class QueryMetadata:
    """Type, total size and chunk lengths of a context, as stated in the system prompt."""

    context_type: str
    context_lengths: list[int] = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        # The reference builds it from the context itself: QueryMetadata(prompt).
        if self.context_lengths is None:
            described = QueryMetadata.of(self.context_type)
            self.context_type, self.context_lengths = (
                described.context_type,
                described.context_lengths,
            )

    @property
    def context_total_length(self) -> int:
        return sum(self.context_lengths)

    @classmethod
    def of(cls, context: Any) -> QueryMetadata:
        if isinstance(context, str):
            return cls("str", [len(context)])
        if isinstance(context, dict):
            return cls("dict", [_length(v) for v in context.values()] or [0])
        if isinstance(context, (list, tuple)):
            return cls("list", [_length(v) for v in context] or [0])
        if callable(getattr(context, "document_lengths", None)):  # rlm.Context (duck-typed)
            return cls("Context", context.document_lengths() or [0])
        return cls(type(context).__name__, [_length(context)])


def _length(chunk: Any) -> int:
    if isinstance(chunk, str):
        return len(chunk)
    if isinstance(chunk, dict) and isinstance(chunk.get("content"), str):
        return len(chunk["content"])
    try:
        return len(json.dumps(chunk, default=str))
    except (TypeError, ValueError):
        return len(repr(chunk))
