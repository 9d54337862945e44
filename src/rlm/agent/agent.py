"""`AgentRLM`: a conversational agent whose every turn is a run of the RLM loop.

The agent keeps one persistent `rlm.RLM` (its REPL lives across turns) and a session in a
`SessionStore`. Before a turn it binds the conversation so far as `history` and any pending
variables (contexts added with `add_context`, or a resumed session's saved variables); after
it, it records the turn and saves the REPL's JSON variables, so a new process with the same
`session=` continues where this one stopped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from rlm.agent.limits import SessionLimits
from rlm.agent.prompt import agent_system_prompt
from rlm.agent.store import SessionStore, TurnRecord, data_dir
from rlm.agent.streaming import AgentChunk, AnswerStreamer, RootStreamingLM
from rlm.agent.tools import check_name, recorded
from rlm.clients import BaseLM, get_client
from rlm.core.rlm import RLM
from rlm.errors import CancellationError, ConfigurationError, RLMError
from rlm.logger.observer import Observer
from rlm.logger.trajectory import RLMLogger
from rlm.types import REPLResult, RLMChatCompletion

__all__ = ["AgentRLM", "create_enforced_agent"]

log = logging.getLogger("rlm.agent")
INLINE_QUERY_CHARS = 2_000  # longer messages are shown to the model only as `context`


class AgentRLM:
    """A chat agent on the RLM loop. Keywords are those of `rlm.RLM`, plus:

    session: the session's name (a new one is made up when omitted); store: the SQLite file
    of sessions (default: `sessions.db` in the user's data directory); max_session_budget,
    max_session_tokens, max_session_time: caps on the whole session, across processes, on
    top of the per-turn `max_budget`, `max_tokens`, `max_timeout`; log_dir: where each
    turn's trajectory is written (default: `logs/sessions/<session>` in the data directory).
    """

    def __init__(
        self,
        backend: str | BaseLM = "openai",
        backend_kwargs: dict[str, Any] | None = None,
        *,
        session: str | None = None,
        store: str | Path | SessionStore | None = None,
        max_session_budget: float | None = None,
        max_session_tokens: int | None = None,
        max_session_time: float | None = None,
        log_dir: str | Path | None = None,
        other_backends: list[str | BaseLM] | None = None,
        other_backend_kwargs: list[dict[str, Any]] | None = None,
        custom_system_prompt: str | None = None,
        custom_tools: dict[str, Any] | None = None,
        logger: RLMLogger | None = None,
        **rlm_kwargs: Any,
    ):
        if rlm_kwargs.pop("persistent", True) is not True:
            raise ConfigurationError("AgentRLM keeps its REPL across turns: persistent=False")
        if rlm_kwargs.get("max_depth", 1) < 1:
            raise ConfigurationError(
                "AgentRLM answers through the REPL: max_depth must be >= 1 (0 is a plain call)"
            )
        self.session = session or time.strftime("chat-%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:4]
        check_session_name(self.session)
        self.store = store if isinstance(store, SessionStore) else SessionStore(store)
        self.limits = SessionLimits(
            max_session_budget, max_session_tokens, max_session_time, rlm_kwargs
        )
        # Built once and kept across RLM rebuilds (a new tool means a new RLM).
        inner = get_client(backend, dict(backend_kwargs or {}))
        self._root = RootStreamingLM(inner)
        kwargs_list = list(other_backend_kwargs or [{}] * len(other_backends or ()))
        if len(kwargs_list) != len(other_backends or ()):
            raise ConfigurationError("other_backend_kwargs needs one dict per other_backends")
        self._clients: list[BaseLM] = [inner] + [
            get_client(b, dict(k or {}))
            for b, k in zip(other_backends or (), kwargs_list, strict=True)
        ]
        self._system_prompt = agent_system_prompt(
            custom_system_prompt or inner.preferred_system_prompt
        )
        self._observers = [*rlm_kwargs.pop("observers", ()), _TurnObserver(self)]
        self._rlm_kwargs = rlm_kwargs
        self._own_logger = logger is None
        self.logger = logger or RLMLogger(
            Path(log_dir) if log_dir else data_dir() / "logs" / "sessions" / self.session
        )
        self._rlm: RLM | None = None
        self._env_started = False
        self._turn_lock = asyncio.Lock()
        self._tools: dict[str, dict[str, Any]] = {}
        self.store.ensure_session(self.session)
        self.messages: list[dict[str, str]] = self.store.messages(self.session)
        # Saved variables go back into the REPL at the next turn.
        self._pending: dict[str, Any] = self.store.variables(self.session)
        self._progress: Callable[[str], None] | None = None
        self._turn = self.store.next_turn(self.session)
        for name, value in (custom_tools or {}).items():
            spec = value if isinstance(value, dict) and "tool" in value else {"tool": value}
            if callable(spec["tool"]):
                self.register_tool(name, spec["tool"], spec.get("description"))
            else:  # data: a REPL variable, as add_context
                self.add_context(name, spec["tool"])
        self._rlm = self._build_rlm()  # settings fail here, not at the first turn

    # -- setup ------------------------------------------------------------------------------
    def register_tool(
        self, name: str, fn: Callable[..., Any], description: str | None = None
    ) -> None:
        """Make `fn` callable from model code as `name(...)`, in every environment. It runs on
        the host (sync or `async def`); arguments and results cross as JSON."""
        check_name(name, "tool")
        if self._turn_lock.locked():
            raise ConfigurationError("register tools between turns, not while one runs")
        if not callable(fn):
            raise ConfigurationError(f"tool {name!r} must be callable (use add_context for data)")
        self._tools[name] = {"tool": recorded(name, fn, self._tool_called)}
        if description:
            self._tools[name]["description"] = description
        self._rlm = self._close_rlm()  # tools are fixed per REPL: the next turn starts a new one

    def add_context(self, name: str, value: Any) -> None:
        """Bind JSON data as the REPL variable `name` from the next turn on (and save it with
        the session's variables)."""
        check_name(name, "context")
        if name in self._tools:
            raise ConfigurationError(f"{name!r} is already a tool name")
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(
                f"context {name!r} must be JSON data (str, number, bool, None, list, dict): {exc}"
            ) from exc
        self._pending[name] = value

    # -- chatting ---------------------------------------------------------------------------
    def chat(self, message: str, stream: bool = False) -> Any:
        """`await agent.chat(message)` -> the answer (str). With `stream=True`, an async
        iterator of `AgentChunk`s: progress lines and the answer as the model writes it.
        Breaking out of (or closing, or cancelling) the iteration cancels the turn."""
        if not isinstance(message, str) or not message.strip():
            raise ConfigurationError("chat() needs a non-empty message string")
        if stream:
            return self._stream(message)
        return self._answer(message)

    async def _answer(self, message: str) -> str:
        return (await self._run_turn(message, None)).response

    async def _stream(self, message: str) -> AsyncIterator[AgentChunk]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[AgentChunk | None] = asyncio.Queue()

        def emit(chunk: AgentChunk) -> None:  # called from engine threads
            try:
                loop.call_soon_threadsafe(queue.put_nowait, chunk)
            except RuntimeError:  # the loop closed: a cancelled turn's thread still reports
                log.debug("dropped a chunk of a turn nobody listens to: %r", chunk)

        streamer = AnswerStreamer(emit)
        task = asyncio.ensure_future(self._run_turn(message, streamer, emit))
        task.add_done_callback(lambda _: queue.put_nowait(None))
        try:
            while (chunk := await queue.get()) is not None:
                yield chunk
            result = task.result()  # a failed turn raises here
            last = streamer.finish(result.response)
            if last is not None:
                yield last
        finally:
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    async def _run_turn(
        self,
        message: str,
        streamer: AnswerStreamer | None,
        emit: Callable[[AgentChunk], None] | None = None,
    ) -> RLMChatCompletion:
        async with self._turn_lock:
            # Re-read: another process may have added turns to this session meanwhile.
            turn, self.messages, totals = await asyncio.to_thread(self._session_state)
            self._turn = turn
            limits = self.limits.for_next_turn(totals)
            rlm = await asyncio.to_thread(self._prepare_repl)
            self._root.attach(streamer)
            self._progress = (lambda text: emit(AgentChunk(text, "progress"))) if emit else None
            if self._own_logger:
                self.logger.file_name = f"turn{turn:04d}"
            spent_before = self._spent()
            started = time.perf_counter()
            query = message if len(message) <= INLINE_QUERY_CHARS else None
            status, error, result = "error", None, None
            try:
                result = await rlm.acompletion(message, root_prompt=query, limits=limits)
                status = "ok"
                return result
            except asyncio.CancelledError:
                status, error = "cancelled", "CancelledError: the turn was cancelled"
                raise
            except CancellationError as exc:
                status, error = "cancelled", f"{type(exc).__name__}: {exc}"
                raise
            except RLMError as exc:
                error = f"{type(exc).__name__}: {exc}"
                raise
            finally:
                self._root.attach(None)
                self._progress = None
                # Shielded: a cancelled turn is still written down before the cancel lands.
                await asyncio.shield(
                    self._record(turn, message, result, status, error, started, spent_before)
                )

    async def _record(
        self,
        turn: int,
        message: str,
        result: RLMChatCompletion | None,
        status: str,
        error: str | None,
        started: float,
        spent_before: dict[str, Any],
    ) -> None:
        spent = self._spent(since=spent_before)
        added: list[dict[str, str]] = []
        variables = None
        if result is not None:
            added = [
                {"role": "user", "content": message},
                {"role": "assistant", "content": result.response},
            ]
            self.messages.extend(added)
            variables = await asyncio.to_thread(self._saved_variables)
        record = TurnRecord(
            turn=turn,
            message=message,
            answer=result.response if result is not None else None,
            status=status,
            error=error,
            input_tokens=spent["input_tokens"],
            output_tokens=spent["output_tokens"],
            cost=spent["cost"],
            execution_time=time.perf_counter() - started,
            log_file=self.logger.log_file_path,
        )
        usage = result.usage_summary.to_dict() if result is not None else None
        await asyncio.to_thread(
            self.store.record_turn, self.session, record, usage, added, variables
        )

    def _session_state(self) -> tuple[int, list[dict[str, str]], dict[str, Any]]:
        """(next turn number, messages so far, totals) as the store has them now."""
        name = self.session
        return self.store.next_turn(name), self.store.messages(name), self.store.totals(name)

    # -- the REPL ---------------------------------------------------------------------------
    def _build_rlm(self) -> RLM:
        return RLM(
            backend=self._root,
            other_backends=list(self._clients),
            custom_system_prompt=self._system_prompt,
            custom_tools=dict(self._tools),
            persistent=True,
            logger=self.logger,
            observers=self._observers,
            **self._rlm_kwargs,
        )

    def _prepare_repl(self) -> RLM:
        """(In a worker thread.) The RLM for the next turn, its REPL holding the conversation
        and every pending variable."""
        if self._rlm is None:
            self._rlm = self._build_rlm()
        env = self._rlm.persistent_environment()
        self._env_started = True
        env.add_history(list(self.messages), 0)  # `history`: the conversation so far
        if self._pending:
            env.set_variables(dict(self._pending))
            self._pending.clear()
        return self._rlm

    def _saved_variables(self) -> dict[str, Any] | None:
        if self._rlm is None or not self._env_started:
            return None
        try:
            return self._rlm.persistent_environment().json_variables()
        except RLMError as exc:
            log.warning("could not read the REPL's variables; keeping the saved ones: %s", exc)
            return None

    def _close_rlm(self) -> None:
        """Drop the current RLM; its JSON variables carry over to the next one."""
        if self._rlm is not None and self._env_started:
            env = self._rlm.persistent_environment()
            saved = self._saved_variables() or {}
            self._pending = {**saved, **self._pending}
            env.close()
        self._env_started = False
        return None

    # -- hooks ------------------------------------------------------------------------------
    def _tool_called(
        self, name: str, arguments: dict, result: str | None, error: str | None, took: float
    ) -> None:
        self._say(f"· tool {name}{' failed' if error else ''} ({took:.2f}s)\n")
        self.store.record_tool_call(self.session, self._turn, name, arguments, result, error, took)

    def _say(self, text: str) -> None:
        progress = self._progress
        if progress is not None:
            progress(text)

    def _spent(self, since: dict[str, Any] | None = None) -> dict[str, Any]:
        """Tokens and cost of every client so far (or since `since`): a turn's spend, also
        when it was cancelled or stopped by a limit."""
        tokens_in = tokens_out = 0
        cost: float | None = None
        for client in self._clients:
            summary = client.get_usage_summary()
            tokens_in += summary.total_input_tokens
            tokens_out += summary.total_output_tokens
            if summary.total_cost is not None:
                cost = (cost or 0.0) + summary.total_cost
        if since is not None:
            tokens_in -= since["input_tokens"]
            tokens_out -= since["output_tokens"]
            if cost is not None:
                cost -= since["cost"] or 0.0
        return {"input_tokens": tokens_in, "output_tokens": tokens_out, "cost": cost}

    # -- reading ----------------------------------------------------------------------------
    def usage(self) -> dict[str, Any]:
        """The session's totals across every process that used it."""
        return self.store.totals(self.session)

    def close(self) -> None:
        """Stop the REPL and close the model clients and the store."""
        self._close_rlm()
        for client in self._clients:
            client.close()
        self.store.close()

    async def __aenter__(self) -> AgentRLM:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.close)


class _TurnObserver(Observer):
    """Marks the root model's reply for streaming and reports progress while a turn runs."""

    def __init__(self, agent: AgentRLM):
        self.agent = agent

    def iteration_started(self, depth: int, number: int) -> None:
        if depth == 0:
            self.agent._root.root_iteration_started()
            self.agent._say(f"· step {number}\n")

    def code_executed(self, depth: int, code: str, result: REPLResult) -> None:
        if depth == 0:
            failed = " (error)" if result.stderr.strip() else ""
            self.agent._say(f"· ran code, {result.execution_time:.2f}s{failed}\n")

    def subcall_started(self, depth: int, model: str, prompt_preview: str) -> None:
        self.agent._say(f"· sub-call to {model}\n")


def check_session_name(name: str) -> None:
    if not name or len(name) > 100 or not all(c.isalnum() or c in "-_." for c in name):
        raise ConfigurationError(
            f"session name {name!r}: use 1-100 letters, digits, '-', '_' or '.'"
        )


def create_enforced_agent(
    backend: str | BaseLM = "openai", backend_kwargs: dict[str, Any] | None = None, **kwargs: Any
) -> AgentRLM:
    """An `AgentRLM` (every turn runs the RLM loop in its REPL; there is no direct path to
    the model). Takes the keywords of `rlm.RLM` plus session=, store= and the session caps."""
    return AgentRLM(backend, backend_kwargs, **kwargs)
