"""The observer seam: the one channel through which a run reports what it does.

The loop, the broker and child runs call these methods; the trajectory recorder, the console
printer, the reference-style progress callbacks and users' own observers
(`RLM(observers=[...])`) all receive the same events. Every method is optional: subclass
`Observer` and override what you need. Events from child runs arrive with their depth.

An observer that raises does not break the run: `ObserverGroup` logs the exception and goes
on, because a bug in a progress display must never cost the user their answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from rlm.types import REPLResult, RLMChatCompletion, RLMIteration

log = logging.getLogger("rlm")


class Observer:
    """Receives a run's events. All methods do nothing unless overridden."""

    def run_started(self, depth: int, metadata: dict[str, Any]) -> None:
        """A run (root or child) begins; `metadata` is its first log line, without secrets."""

    def iteration_started(self, depth: int, number: int) -> None:
        """Iteration `number` (from 1) is about to ask the model."""

    def model_responded(self, depth: int, text: str) -> None:
        """The model's reply to one iteration, before any of its code runs."""

    def code_executed(self, depth: int, code: str, result: REPLResult) -> None:
        """One code block ran (its sub-calls are in `result.rlm_calls`)."""

    def iteration_completed(self, depth: int, number: int, iteration: RLMIteration) -> None:
        """Iteration `number` is over; `iteration` is what the log records for it."""

    def subcall_started(self, depth: int, model: str, prompt_preview: str) -> None:
        """`llm_query`/`rlm_query` (at `depth`, the callee's) sent a prompt to `model`."""

    def subcall_completed(self, depth: int, model: str, elapsed: float, error: str | None) -> None:
        """That sub-call returned after `elapsed` seconds (`error` set when it failed)."""

    def final_answer(self, depth: int, answer: str) -> None:
        """The model gave its final answer."""

    def run_finished(self, depth: int, completion: RLMChatCompletion) -> None:
        """The run ended (also on a limit or error: see `completion.error`)."""


_EVENTS = tuple(name for name in vars(Observer) if not name.startswith("_"))


class ObserverGroup(Observer):
    """Fans every event out to several observers; one that raises is logged and skipped."""

    def __init__(self, observers: Iterable[Observer | None]):
        self.observers = tuple(o for o in observers if o is not None)

    def _fan_out(self, event: str, *args: Any) -> None:
        for observer in self.observers:
            try:
                getattr(observer, event)(*args)
            except Exception:
                log.exception("%s.%s raised; the run goes on", type(observer).__name__, event)


def _fan_out_method(event: str) -> Callable[..., None]:
    def method(self: ObserverGroup, *args: Any) -> None:
        self._fan_out(event, *args)

    method.__name__ = event
    method.__doc__ = getattr(Observer, event).__doc__
    return method


for _event in _EVENTS:
    setattr(ObserverGroup, _event, _fan_out_method(_event))


class CallbackObserver(Observer):
    """The reference implementation's four progress callbacks, as an observer."""

    def __init__(
        self,
        on_iteration_start: Callable[[int, int], None] | None = None,
        on_iteration_complete: Callable[[int, int, float], None] | None = None,
        on_subcall_start: Callable[[int, str, str], None] | None = None,
        on_subcall_complete: Callable[[int, str, float, str | None], None] | None = None,
    ):
        self.on_iteration_start = on_iteration_start
        self.on_iteration_complete = on_iteration_complete
        self.on_subcall_start = on_subcall_start
        self.on_subcall_complete = on_subcall_complete

    @property
    def active(self) -> bool:
        return any(
            (
                self.on_iteration_start,
                self.on_iteration_complete,
                self.on_subcall_start,
                self.on_subcall_complete,
            )
        )

    def iteration_started(self, depth: int, number: int) -> None:
        if self.on_iteration_start:
            self.on_iteration_start(depth, number)

    def iteration_completed(self, depth: int, number: int, iteration: RLMIteration) -> None:
        if self.on_iteration_complete:
            self.on_iteration_complete(depth, number, iteration.iteration_time or 0.0)

    def subcall_started(self, depth: int, model: str, prompt_preview: str) -> None:
        if self.on_subcall_start:
            self.on_subcall_start(depth, model, prompt_preview)

    def subcall_completed(self, depth: int, model: str, elapsed: float, error: str | None) -> None:
        if self.on_subcall_complete:
            self.on_subcall_complete(depth, model, elapsed, error)
