"""Runs that keep no loop: the plain model call (depth >= max_depth) and the records every
run writes (its first log line, its closing result)."""

from __future__ import annotations

import time
from typing import Any

from rlm.clients.base import as_messages
from rlm.core import answers
from rlm.core.config import redact
from rlm.core.context_shape import context_as_text
from rlm.core.feedback import prompt_for_record
from rlm.core.scope import RunScope
from rlm.errors import RLMError
from rlm.trace import Trace
from rlm.types import Message, QueryMetadata, RLMChatCompletion


def plain_messages(prompt: Any, root_prompt: str | None) -> list[Message]:
    """A plain call's messages: the context, then the question when there is one (never
    dropped: without it the model can only summarise)."""
    if not root_prompt or (isinstance(prompt, str) and prompt.strip() == root_prompt.strip()):
        return as_messages(prompt)
    if (
        isinstance(prompt, list)
        and prompt
        and all(isinstance(m, dict) and "role" in m for m in prompt)
    ):
        return [*prompt, {"role": "user", "content": root_prompt}]  # already a conversation
    text = context_as_text(prompt)
    return [{"role": "user", "content": f"{text}\n\nQuestion: {root_prompt}"}]


def plain_call(
    scope: RunScope, prompt: Any, start: float, root_prompt: str | None = None
) -> RLMChatCompletion:
    """Depth >= max_depth: one LM call, no REPL (logged as a run with no iterations)."""
    client = scope.client
    scope.observer.run_started(
        scope.depth, run_metadata(scope, QueryMetadata.of(prompt), root_prompt)
    )
    error: RLMError | None = None
    text = ""
    try:
        messages = plain_messages(prompt, root_prompt)
        response = scope.guard.call_model(client.complete, messages, **scope.sampling)
        text = response.text
    except RLMError as exc:
        error = exc
        raise
    finally:
        completion = RLMChatCompletion(
            root_model=client.model_name,
            prompt=prompt_for_record(prompt),
            response=text,
            usage_summary=scope.guard.usage_summary(),
            execution_time=time.perf_counter() - start,
            error=f"{type(error).__name__}: {error}" if error else None,
            finish_reason=answers.LIMIT if error else answers.PLAIN,
        )
        finish_record(scope, completion)
    return completion


def finish_record(scope: RunScope, completion: RLMChatCompletion) -> None:
    scope.observer.run_finished(scope.depth, completion)
    if scope.recorder is not None:
        # One record, two views: the trace (always) and the metadata (when logged).
        trajectory = scope.recorder.trajectory()
        completion.trace = Trace.from_trajectory(trajectory)
        if scope.publish_metadata:
            completion.metadata = trajectory


def run_metadata(scope: RunScope, meta: QueryMetadata, root_prompt: str | None) -> dict[str, Any]:
    """The first log line of a run: its configuration, without secrets or the context."""
    cfg = scope.config
    return {
        "root_model": scope.client.model_name,
        "max_depth": cfg.max_depth,
        "max_iterations": cfg.max_iterations,
        "backend": cfg.backend if isinstance(cfg.backend, str) else "custom",
        "backend_kwargs": redact(cfg.backend_kwargs),
        "environment_type": cfg.environment,
        "environment_kwargs": redact(cfg.environment_kwargs),
        "other_backends": [b if isinstance(b, str) else b.model_name for b in cfg.other_backends]
        or None,
        "depth": scope.depth,
        "context_type": meta.context_type,
        "context_total_length": meta.context_total_length,
        "root_prompt": root_prompt,
    }
