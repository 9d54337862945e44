"""The settings of an RLM, validated once, and the model router built from them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rlm.clients import BaseLM, get_client
from rlm.core.guards import FinishGuards
from rlm.core.limits import Limits
from rlm.environments import ToolSpec
from rlm.environments.tools import tool_specs as parse_tools
from rlm.errors import ConfigurationError
from rlm.logger.observer import Observer

SECRET_MARKERS = ("key", "token", "secret", "password", "authorization", "credential")


@dataclass(frozen=True)
class RLMConfig:
    backend: str | BaseLM
    backend_kwargs: Mapping[str, Any]
    environment: str
    environment_kwargs: Mapping[str, Any]
    max_depth: int
    max_iterations: int
    limits: Limits
    other_backends: tuple[str | BaseLM, ...]
    other_backend_kwargs: tuple[Mapping[str, Any], ...]
    custom_system_prompt: str | None
    tools: tuple[ToolSpec, ...]
    sub_tools: tuple[ToolSpec, ...]
    persistent: bool
    compaction: bool
    compaction_threshold_pct: float
    max_concurrent_subcalls: int
    sampling_args: Mapping[str, Any]
    sub_sampling_args: Mapping[str, Any]
    output_limit: int
    # Paragraphs appended to the root system prompt (e.g. how to use a search index).
    prompt_notes: tuple[str, ...] = ()
    depth: int = 0  # the root's depth (the reference lets a child RLM be built at depth > 0)
    user_prologue: str | None = None  # a user message before the first turn
    # Everything that watches every run of the tree: the console (verbose), the progress
    # callbacks, users' own observers. Each run adds its own trajectory recorder.
    observers: tuple[Observer, ...] = ()
    # How a run may end: loop detection and pyrlm-runtime's finishing rules (core/guards.py).
    guards: FinishGuards = field(default_factory=FinishGuards)
    # Show the root model the context's best-matching lines before its first turn
    # (core/first_look.py). None: only for models with a window of at most 32k tokens.
    first_look: bool | None = None


def tool_specs(tools: Mapping[str, Any] | None, what: str) -> tuple[ToolSpec, ...]:
    """Custom tools: `{name: value}` or `{name: {"tool": value, "description": str}}`."""
    return tuple(parse_tools(tools, what))


def redact(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Settings safe to log: secrets masked, callables and objects named, not dumped."""
    out: dict[str, Any] = {}
    for key, value in kwargs.items():
        if any(marker in key.lower() for marker in SECRET_MARKERS):
            out[key] = "***"
        elif value is None or isinstance(value, (bool, int, float, str)):
            out[key] = value
        elif isinstance(value, Mapping):
            out[key] = redact(value)
        elif isinstance(value, (list, tuple)) and all(
            isinstance(v, (bool, int, float, str)) for v in value
        ):
            out[key] = list(value) if len(value) <= 20 else f"<{len(value)} items>"
        elif callable(value):
            out[key] = f"<callable {getattr(value, '__name__', type(value).__name__)}>"
        else:
            out[key] = f"<{type(value).__name__}>"
    return out


class ModelRouter:
    """Which client answers which call.

    Depth-0 root calls go to `backend`. Every other call (sub-calls from the REPL and the root
    calls of child RLMs) goes to `other_backends[0]` if given, else `backend`. `model=` picks
    any configured client by its model name or backend name.
    """

    def __init__(self, config: RLMConfig, make_client: Callable[..., BaseLM] = get_client):
        self.root = make_client(config.backend, dict(config.backend_kwargs))
        self.clients: list[BaseLM] = [self.root]
        names: dict[str, BaseLM] = {}
        self._register(names, config.backend, self.root)
        kwargs_list = list(config.other_backend_kwargs) or [{}] * len(config.other_backends)
        if len(kwargs_list) != len(config.other_backends):
            raise ConfigurationError(
                "other_backend_kwargs must have one dict per entry of other_backends"
            )
        for backend, kwargs in zip(config.other_backends, kwargs_list, strict=True):
            client = make_client(backend, dict(kwargs or {}))
            self.clients.append(client)
            self._register(names, backend, client)
        self.sub = self.clients[1] if len(self.clients) > 1 else self.root
        self._by_name = names

    @staticmethod
    def _register(names: dict[str, BaseLM], backend: str | BaseLM, client: BaseLM) -> None:
        names.setdefault(client.model_name, client)
        if isinstance(backend, str):
            names.setdefault(backend, client)

    def for_depth(self, depth: int) -> BaseLM:
        return self.root if depth == 0 else self.sub

    def pick(self, model: str | None, depth: int) -> BaseLM:
        if model is None:
            return self.for_depth(depth)
        client = self._by_name.get(model)
        if client is None:
            raise ConfigurationError(
                f"unknown model {model!r}; configured models: {', '.join(sorted(self._by_name))}"
                ". Add it to other_backends to call it by name."
            )
        return client

    @property
    def model_names(self) -> list[str]:
        return sorted({c.model_name for c in self.clients})

    def close(self) -> None:
        for client in self.clients:
            client.close()
