"""`RLM`: the public entry point. Validates settings once, then runs completions."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from rlm.clients import BaseLM, check_backend, get_client
from rlm.clients.foreign import as_client
from rlm.core.broker import Broker
from rlm.core.config import ModelRouter, RLMConfig, tool_specs
from rlm.core.engine import open_environment, run
from rlm.core.guards import DEFAULT_INVALID_RESPONSE_LIMIT, FinishGuards
from rlm.core.limits import Limits, RunGuard
from rlm.core.retrieval_tools import add_retriever_tools
from rlm.core.scope import RunScope
from rlm.environments import BaseEnv, check_keywords, environment_class
from rlm.environments.toolkit import Context
from rlm.errors import CancellationError, ConfigurationError
from rlm.logger.observer import CallbackObserver, Observer
from rlm.logger.trajectory import RLMLogger, RunRecorder
from rlm.types import RLMChatCompletion

log = logging.getLogger("rlm")
DEFAULT_ENVIRONMENT = "sandbox"  # hardened subprocess; "local" is in-process exec
# Environment keywords the engine sets itself (users configure the rest).
ENGINE_KEYWORDS = {"host", "tools", "depth", "compaction", "subcall_fn", "lm_handler_address",
                   "custom_tools", "custom_sub_tools", "context_payload"}  # fmt: skip


class RLM:
    """A Recursive Language Model.

    `completion(prompt)` loads `prompt` into a REPL as `context` and lets the root model work
    on it with code and sub-calls until it gives a final answer. Keyword names follow the
    reference implementation (`rlms`), so its users can switch.
    """

    def __init__(
        self,
        backend: str | BaseLM = "openai",
        backend_kwargs: dict[str, Any] | None = None,
        environment: str = DEFAULT_ENVIRONMENT,
        environment_kwargs: dict[str, Any] | None = None,
        depth: int = 0,
        max_depth: int = 1,
        max_iterations: int = 30,
        max_budget: float | None = None,
        max_timeout: float | None = None,
        max_tokens: int | None = None,
        max_errors: int | None = None,
        custom_system_prompt: str | None = None,
        other_backends: list[str | BaseLM] | None = None,
        other_backend_kwargs: list[dict[str, Any]] | None = None,
        logger: RLMLogger | None = None,
        verbose: bool = False,
        persistent: bool = False,
        custom_tools: dict[str, Any] | None = None,
        custom_sub_tools: dict[str, Any] | None = None,
        compaction: bool = False,
        compaction_threshold_pct: float = 0.85,
        max_concurrent_subcalls: int = 16,
        sampling_args: dict[str, Any] | None = None,
        sub_sampling_args: dict[str, Any] | None = None,
        *,
        orchestrator: bool = True,
        user_prologue: str | None = None,
        max_subcalls: int | None = None,
        max_subcall_tokens: int | None = None,
        on_subcall_limit: str = "raise",
        output_limit: int = 20_000,
        require_repl_before_final: bool = False,
        require_subcall_before_final: bool = False,
        invalid_response_limit: int | None = None,
        fallback_code: str | None = None,
        auto_finalize_var: str | None = None,
        observers: Sequence[Observer] = (),
        on_iteration_start: Callable[[int, int], None] | None = None,
        on_iteration_complete: Callable[[int, int, float], None] | None = None,
        on_subcall_start: Callable[[int, str, str], None] | None = None,
        on_subcall_complete: Callable[[int, str, float, str | None], None] | None = None,
        retriever: Any = None,
        first_look: bool | None = None,
    ):
        # Positional order is the reference's (`depth` is its fifth parameter).
        _require(isinstance(depth, int) and depth >= 0, "depth must be an int >= 0")
        _require(isinstance(max_depth, int) and max_depth >= 0, "max_depth must be an int >= 0")
        _require(
            isinstance(max_iterations, int) and max_iterations >= 1,
            "max_iterations must be an int >= 1",
        )
        _require(max_concurrent_subcalls >= 1, "max_concurrent_subcalls must be >= 1")
        _require(0 < compaction_threshold_pct <= 1, "compaction_threshold_pct must be in (0, 1]")
        _require(output_limit >= 100, "output_limit must be >= 100 characters")
        for name, value in (("max_budget", max_budget), ("max_timeout", max_timeout)):
            _require(value is None or value > 0, f"{name} must be > 0 (or None for no limit)")
        _require(max_tokens is None or max_tokens > 0, "max_tokens must be > 0 (or None)")
        _require(max_errors is None or max_errors > 0, "max_errors must be > 0 (or None)")
        _require(
            invalid_response_limit is None or invalid_response_limit >= 1,
            "invalid_response_limit must be >= 1 (or None for the default of "
            f"{DEFAULT_INVALID_RESPONSE_LIMIT})",
        )
        _require(
            auto_finalize_var is None or auto_finalize_var.isidentifier(),
            "auto_finalize_var must be a Python identifier (the REPL variable to finish with)",
        )
        for name, count in (
            ("max_subcalls", max_subcalls),
            ("max_subcall_tokens", max_subcall_tokens),
        ):
            _require(count is None or count >= 0, f"{name} must be >= 0 (or None for no limit)")
        _require(
            on_subcall_limit in ("raise", "finalize"),
            "on_subcall_limit must be 'raise' (stop with an error) or 'finalize' (the model "
            "answers with what it has)",
        )
        # Unknown names and keywords fail here, not mid-run; the model client is built at the
        # first completion (so a key loaded from .env after construction is still found).
        check_keywords(
            environment,
            environment_class(environment, persistent=persistent),
            dict(environment_kwargs or {}),
            ENGINE_KEYWORDS,
        )
        check_backend(backend)
        notes: tuple[str, ...] = ()
        if retriever is not None:  # es_search & co. become host-side tools
            custom_tools, custom_sub_tools, notes = add_retriever_tools(
                retriever, custom_tools, custom_sub_tools
            )
        self.retriever = retriever
        tools = tool_specs(custom_tools, "custom_tools")
        sub_tools = (
            tools if custom_sub_tools is None else tool_specs(custom_sub_tools, "custom_sub_tools")
        )
        self.config = RLMConfig(
            backend=backend,
            backend_kwargs=dict(backend_kwargs or {}),
            environment=environment,
            environment_kwargs=dict(environment_kwargs or {}),
            max_depth=max_depth,
            max_iterations=max_iterations,
            limits=Limits(
                max_budget,
                max_timeout,
                max_tokens,
                max_errors,
                max_subcalls=max_subcalls,
                max_subcall_tokens=max_subcall_tokens,
                on_subcall_limit=on_subcall_limit,
            ),
            other_backends=tuple(other_backends or ()),
            other_backend_kwargs=tuple(other_backend_kwargs or ()),
            custom_system_prompt=custom_system_prompt,
            tools=tools,
            sub_tools=sub_tools,
            persistent=persistent,
            compaction=compaction,
            compaction_threshold_pct=compaction_threshold_pct,
            max_concurrent_subcalls=max_concurrent_subcalls,
            sampling_args=dict(sampling_args or {}),
            sub_sampling_args=dict(sub_sampling_args or {}),
            output_limit=output_limit,
            prompt_notes=notes,
            guards=FinishGuards(
                require_repl_before_final=require_repl_before_final,
                require_subcall_before_final=require_subcall_before_final,
                invalid_response_limit=invalid_response_limit,
                fallback_code=fallback_code,
                auto_finalize_var=auto_finalize_var,
            ),
            depth=depth,
            user_prologue=user_prologue,
            first_look=first_look,
            observers=_observers(
                observers,
                verbose,
                CallbackObserver(
                    on_iteration_start,
                    on_iteration_complete,
                    on_subcall_start,
                    on_subcall_complete,
                ),
            ),
        )
        self._router: ModelRouter | None = None
        self.orchestrator = orchestrator  # accepted for the reference; our prompt is one
        self.logger = logger
        self.verbose = verbose
        self._workspace: tuple[BaseEnv, Broker] | None = None
        self._persistent_scope: RunScope | None = None
        self._turn = 0
        self._lock = threading.Lock()
        self._router_lock = threading.Lock()

    # -- public -----------------------------------------------------------------------------
    def completion(
        self, prompt: Any = None, root_prompt: str | None = None, *, limits: Limits | None = None
    ) -> RLMChatCompletion:
        """Answer over `prompt` (str, dict or list), the REPL's `context`. `root_prompt`, if
        given, is the question shown to the root model every turn. With a retriever the
        context may be omitted: `completion(root_prompt=question)`. `limits` replaces the
        configured limits for this call only (an agent's per-turn and per-session caps)."""
        prompt = self._context_or_query(prompt, root_prompt)
        scope = self._new_scope(prompt, limits)
        try:
            return self._run(scope, prompt, root_prompt)
        except KeyboardInterrupt:
            scope.guard.cancel()
            raise CancellationError() from None

    async def acompletion(
        self, prompt: Any = None, root_prompt: str | None = None, *, limits: Limits | None = None
    ) -> RLMChatCompletion:
        """`completion` without blocking the event loop; cancelling the task stops the run."""
        prompt = self._context_or_query(prompt, root_prompt)
        scope = self._new_scope(prompt, limits)
        scope.guard.allow_remote_cancel()
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(None, self._run, scope, prompt, root_prompt)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            scope.guard.cancel()
            # The run ends with CancellationError that nobody awaits any more: retrieve it,
            # so asyncio does not log "Future exception was never retrieved".
            future.add_done_callback(_retrieve)
            raise

    def persistent_environment(self) -> BaseEnv:
        """The REPL that `persistent=True` keeps across completions, started now if it is
        not running yet: a seam for packages that prepare it between turns (rlm.agent binds
        its conversation and variables). Do not call it while a completion runs."""
        if not self.config.persistent:
            raise ConfigurationError("persistent_environment() needs RLM(persistent=True)")
        with self._lock:
            if self._workspace is None:
                # Unlimited placeholder guard: each completion points the scope at its own.
                scope = RunScope(
                    config=self.config,
                    router=self.router,
                    guard=RunGuard(Limits()),
                    depth=self.config.depth,
                    tools=self.config.tools,
                )
                self._persistent_scope = scope
                self._workspace = open_environment(scope)
            return self._workspace[0]

    def close(self) -> None:
        """Release the persistent environment and the model clients."""
        if self._workspace is not None:
            env, broker = self._workspace
            env.close()
            broker.close()
            self._workspace = None
        if self._router is not None:
            self._router.close()

    # -- settings, under the reference's attribute names (read-only) ---------------------------
    @property
    def router(self) -> ModelRouter:
        """The model clients, built on first use through `get_client` (patchable here)."""
        with self._router_lock:
            if self._router is None:
                self._router = ModelRouter(self.config, _make_client)
            return self._router

    backend = property(lambda self: self.config.backend)
    backend_kwargs = property(lambda self: dict(self.config.backend_kwargs))
    environment_type = property(lambda self: self.config.environment)
    environment_kwargs = property(lambda self: dict(self.config.environment_kwargs))
    depth = property(lambda self: self.config.depth)
    max_depth = property(lambda self: self.config.max_depth)
    max_iterations = property(lambda self: self.config.max_iterations)
    max_budget = property(lambda self: self.config.limits.max_budget)
    max_timeout = property(lambda self: self.config.limits.max_timeout)
    max_tokens = property(lambda self: self.config.limits.max_tokens)
    max_errors = property(lambda self: self.config.limits.max_errors)
    persistent = property(lambda self: self.config.persistent)
    compaction = property(lambda self: self.config.compaction)
    max_concurrent_subcalls = property(lambda self: self.config.max_concurrent_subcalls)
    other_backends = property(lambda self: list(self.config.other_backends) or None)
    user_prologue = property(lambda self: self.config.user_prologue)
    custom_tools = property(lambda self: _tool_dict(self.config.tools))
    custom_sub_tools = property(lambda self: _tool_dict(self.config.sub_tools))

    @property
    def _persistent_env(self) -> BaseEnv | None:
        """The environment kept across completions (persistent=True), once one ran."""
        return self._workspace[0] if self._workspace is not None else None

    def __enter__(self) -> RLM:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals --------------------------------------------------------------------------
    def _context_or_query(self, prompt: Any, root_prompt: str | None) -> Any:
        if prompt is not None:
            return prompt
        if self.retriever is None or root_prompt is None:
            raise ConfigurationError(
                "completion() needs a context: completion(prompt, root_prompt=...). Only an "
                "RLM with a retriever may omit it, given the question: "
                "completion(root_prompt=question)"
            )
        return root_prompt  # `context` then holds the question; the documents are in the index

    def _new_scope(self, prompt: Any, limits: Limits | None = None) -> RunScope:
        _check_context(prompt)
        return RunScope(
            config=self.config,
            router=self.router,
            guard=RunGuard(limits or self.config.limits),
            depth=self.config.depth,
            tools=self.config.tools,
            # Always recorded: the record is `result.trace` (and, with a logger, the log).
            recorder=self.logger.open_run() if self.logger is not None else RunRecorder(),
            publish_metadata=self.logger is not None,
        )

    def _run(self, scope: RunScope, prompt: Any, root_prompt: str | None) -> RLMChatCompletion:
        try:
            if self.config.persistent:
                return self._persistent_completion(scope, prompt, root_prompt)
            return run(scope, prompt, root_prompt)
        finally:
            scope.guard.release()

    def _persistent_completion(
        self, scope: RunScope, prompt: Any, root_prompt: str | None
    ) -> RLMChatCompletion:
        with self._lock:
            if self._workspace is None:
                self._persistent_scope = scope
                self._workspace = open_environment(scope)
            else:
                # The environment's broker serves the scope it was built with: point that
                # scope at this turn's guard and recorder.
                held = self._persistent_scope
                assert held is not None
                held.guard, held.recorder = scope.guard, scope.recorder
                scope = held
            turn = self._turn
            result = run(scope, prompt, root_prompt, workspace=self._workspace, turn=turn)
            self._workspace[0].add_history(scope.last_messages, turn)
            self._turn += 1
            return result


def _observers(
    given: Sequence[Observer], verbose: bool, callbacks: CallbackObserver
) -> tuple[Observer, ...]:
    observers = list(given)
    for observer in observers:
        if not isinstance(observer, Observer):
            raise ConfigurationError(
                f"observers: {observer!r} is not an rlm.logger.Observer; subclass it and "
                "override the events you need"
            )
    if callbacks.active:
        observers.append(callbacks)
    if verbose:
        from rlm.logger.console import ConsolePrinter

        observers.append(ConsolePrinter())
    return tuple(observers)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.debug("a cancelled completion ended with %r", future.exception())


def _make_client(backend: Any, backend_kwargs: dict[str, Any]) -> BaseLM:
    # Looked up in this module at call time: tests written for the reference patch
    # `rlm.core.rlm.get_client` to fake a model, and any object with `completion` is wrapped.
    return as_client(get_client(backend, backend_kwargs), backend_kwargs.get("model_name"))


def _tool_dict(tools: tuple[Any, ...]) -> dict[str, Any]:
    return {t.name: t.value for t in tools}


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigurationError(message)


def _check_context(prompt: Any) -> None:
    if isinstance(prompt, (bytes, bytearray, memoryview)):
        raise ConfigurationError(
            "context is bytes: decode it to str first (e.g. data.decode('utf-8', 'replace'))"
        )
    if not isinstance(prompt, (str, dict, list, tuple, Context)):
        raise ConfigurationError(
            f"context must be a str, dict or list (or an rlm.Context), not {type(prompt).__name__}"
        )
