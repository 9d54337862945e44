"""What one run (at one depth) works with, and how a child run's scope derives from it.

A `RunScope` is handed to the loop and to the broker that serves the run's REPL callbacks.
A child RLM (`rlm_query`) gets `scope.child(model)`: depth + 1, the sub-tools, a guard chained
to this one (its spend counts against ours), and a trajectory recorder of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rlm.clients.base import BaseLM
from rlm.core.config import ModelRouter, RLMConfig
from rlm.core.limits import RunGuard
from rlm.environments import ToolSpec
from rlm.logger.observer import Observer, ObserverGroup
from rlm.logger.trajectory import RunRecorder
from rlm.types import Message


@dataclass
class RunScope:
    config: RLMConfig
    router: ModelRouter | PinnedRouter
    guard: RunGuard
    depth: int
    tools: tuple[ToolSpec, ...]
    recorder: RunRecorder | None = None  # this run's own trajectory (None: not recorded)
    # False for a root run without a logger: recorded (for `result.trace`) but `metadata`
    # stays None, as in the reference implementation.
    publish_metadata: bool = True
    last_messages: list[Message] = field(default_factory=list)

    @property
    def observer(self) -> Observer:
        """Everything watching this run: the configured observers plus its own recorder."""
        return ObserverGroup((*self.config.observers, self.recorder))

    @property
    def observed(self) -> bool:
        """Whether anything beyond the recorder listens (previews are only built if so)."""
        return bool(self.config.observers)

    @property
    def can_recurse(self) -> bool:
        return self.depth + 1 < self.config.max_depth

    @property
    def client(self) -> BaseLM:
        return self.router.for_depth(self.depth)

    @property
    def sampling(self) -> dict[str, Any]:
        cfg = self.config
        return dict(cfg.sampling_args if self.depth == 0 else cfg.sub_sampling_args)

    def child(self, model: str | None) -> RunScope:
        """The scope of a child RLM at depth + 1 (`model` pins every call of its subtree)."""
        router = self.router
        if model is not None:
            router = PinnedRouter(self.router, self.router.pick(model, self.depth + 1))
        return RunScope(
            config=self.config,
            router=router,
            guard=RunGuard(parent=self.guard),
            depth=self.depth + 1,
            tools=self.config.sub_tools,
            recorder=RunRecorder(),
        )


class PinnedRouter:
    """A router whose calls at every depth go to one client (rlm_query(..., model=name))."""

    def __init__(self, base: ModelRouter | PinnedRouter, client: BaseLM):
        self._base = base
        self._client = client

    def for_depth(self, depth: int) -> BaseLM:
        return self._client

    def pick(self, model: str | None, depth: int) -> BaseLM:
        return self._client if model is None else self._base.pick(model, depth)
