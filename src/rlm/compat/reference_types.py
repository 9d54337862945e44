"""Reference type names with no counterpart of ours: backend/environment literals, the run
metadata record, and the recursive value serialiser its tests and loggers use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from rlm.types import serialize_value

ClientBackend = Literal[
    "openai", "portkey", "openrouter", "vercel", "vllm", "anthropic", "azure_openai", "gemini",
    "litellm", "ollama", "lmstudio", "llamacpp", "local", "scripted", "function",
]  # fmt: skip
EnvironmentType = Literal[
    "local", "sandbox", "ipython", "docker", "modal", "prime", "daytona", "e2b"
]


def _serialize_value(value: Any) -> Any:
    """JSON-safe: containers recursively, everything else as our bounded log rendering."""
    if isinstance(value, (list, tuple)):
        return [_serialize_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _serialize_value(v) for k, v in value.items()}
    return serialize_value(value)


@dataclass
class RLMMetadata:
    """A run's configuration as the reference logs it (our log's first line is a superset)."""

    root_model: str
    max_depth: int
    max_iterations: int
    backend: str
    backend_kwargs: dict[str, Any]
    environment_type: str
    environment_kwargs: dict[str, Any]
    other_backends: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        from rlm.core.config import redact

        return {
            "root_model": self.root_model,
            "max_depth": self.max_depth,
            "max_iterations": self.max_iterations,
            "backend": self.backend,
            "backend_kwargs": redact(self.backend_kwargs),
            "environment_type": self.environment_type,
            "environment_kwargs": redact(self.environment_kwargs),
            "other_backends": self.other_backends,
        }
