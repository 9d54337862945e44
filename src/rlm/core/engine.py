"""The RLM loop: ask the root model, run its code, feed the output back, stop at a final answer.

`run` drives one run at one depth with a `RunScope` (core/scope.py). Child RLMs spawned by
`rlm_query` are runs of `scope.child(...)`, served by `spawn_child`. Everything the loop does
is reported through the scope's observer (trajectory recorder, console, callbacks).
"""

from __future__ import annotations

import logging
import time
from functools import partial
from typing import Any

from rlm.core import answers
from rlm.core.broker import Broker
from rlm.core.context_shape import describe_shape
from rlm.core.feedback import format_result, prompt_for_record
from rlm.core.first_look import opening_look
from rlm.core.guards import Action, RunWatch
from rlm.core.output_budget import block_output_chars, fit_to_window, reply_reserve
from rlm.core.parsing import (
    FinalMarker,
    final_in_reply,
    find_final,
    literal_text,
    printed_final,
    runnable_code,
    strip_code_fences,
)
from rlm.core.plain import finish_record, plain_call, run_metadata
from rlm.core.prompts import (
    AFTER_COMPACTION,
    BEST_ANSWER,
    BUDGET_SPENT,
    COMPACTION,
    LOOP_DETECTED,
    OUT_OF_ITERATIONS,
    QUOTE_ONLY,
    build_system_prompt,
    first_turn,
    next_turn,
    query_line,
)
from rlm.core.scope import RunScope
from rlm.environments import BaseEnv, environment_class
from rlm.errors import (
    CancellationError,
    ErrorThresholdExceededError,
    LimitExceededError,
    RLMError,
)
from rlm.tokens import count_message_tokens
from rlm.types import (
    CodeBlock,
    LMResponse,
    Message,
    QueryMetadata,
    REPLResult,
    RLMChatCompletion,
    RLMIteration,
)

log = logging.getLogger("rlm")
DEFAULT_CONTEXT_WINDOW = 128_000

__all__ = ["open_environment", "run", "run_metadata", "spawn_child"]


def spawn_child(scope: RunScope, prompt: Any, model: str | None) -> RLMChatCompletion:
    """A child RLM at depth + 1 with its own environment; its spend counts against ours."""
    child = scope.child(model)
    try:
        return run(child, prompt, root_prompt=None)
    finally:
        child.guard.release()


def open_environment(scope: RunScope) -> tuple[BaseEnv, Broker]:
    """A fresh REPL for `scope` and the broker that serves its callbacks."""
    cfg = scope.config
    broker = Broker(scope, spawn=partial(spawn_child, scope))
    env = environment_class(cfg.environment)(
        host=broker,
        tools=list(scope.tools),
        depth=scope.depth,
        compaction=cfg.compaction,
        **dict(cfg.environment_kwargs),
    )
    return env, broker


def run(
    scope: RunScope,
    prompt: Any,
    root_prompt: str | None,
    *,
    workspace: tuple[BaseEnv, Broker] | None = None,
    turn: int = 0,
) -> RLMChatCompletion:
    """One completion at `scope.depth`. With `workspace` given (persistent mode), that
    environment and its broker are reused and stay open."""
    start = time.perf_counter()
    if scope.depth >= scope.config.max_depth:
        return plain_call(scope, prompt, start, root_prompt)
    owns_env = workspace is None
    env, broker = workspace if workspace is not None else open_environment(scope)
    if not owns_env:
        # A persistent REPL: an interrupt meant for an earlier run (one that tripped while
        # no cell ran, even just after that run ended) must not stop this run's first cell.
        env.clear_interrupt()
    remove_interrupt = scope.guard.on_trip(env.interrupt)
    loop = _Loop(scope, env, broker, prompt, root_prompt, turn)
    try:
        answer = loop.run()
    except (LimitExceededError, CancellationError) as exc:
        if exc.partial_answer is None:
            exc.partial_answer = loop.partial_answer()
        loop.finish(None, start, error=exc)
        raise
    except RLMError as exc:
        loop.finish(None, start, error=exc)
        raise
    finally:
        scope.last_messages = list(loop.messages)
        remove_interrupt()
        if owns_env:
            env.close()
            broker.close()
    return loop.finish(answer, start)


class _Loop:
    def __init__(
        self,
        scope: RunScope,
        env: BaseEnv,
        broker: Broker,
        prompt: Any,
        root_prompt: str | None,
        turn: int,
    ):
        self.scope = scope
        self.env = env
        self.broker = broker
        self.prompt = prompt
        self.root_prompt = root_prompt
        self.turn = turn
        self.consecutive_errors = 0
        self.last_error: str | None = None
        self.messages: list[Message] = []
        self.iterations = 0
        self.last_output: str | None = None
        self.last_usage: Any = None
        self.context_window = scope.client.context_window or DEFAULT_CONTEXT_WINDOW
        self.watch = RunWatch(scope.config.guards)
        self.finish_reason = answers.EMPTY
        self.stopping = ""  # set when the watch ends the run early: why
        self._fallback_block: CodeBlock | None = None

    # -- the loop ---------------------------------------------------------------------------
    def run(self) -> str:
        scope, cfg = self.scope, self.scope.config
        self.env.load_context(self.prompt, self.turn)
        meta = QueryMetadata.of(self.prompt)
        name = f"context_{self.turn}" if self.turn else "context"
        system = build_system_prompt(
            meta,
            depth=scope.depth,
            max_depth=cfg.max_depth,
            tools=scope.tools,
            output_limit=cfg.output_limit,
            turn=self.turn,
            compaction=cfg.compaction,
            notes=cfg.prompt_notes,
            custom=cfg.custom_system_prompt or scope.client.preferred_system_prompt,
            shape=describe_shape(self.prompt, name),
        )
        self._start_log(meta)
        self._append({"role": "system", "content": system})
        look = opening_look(
            self.prompt,
            self.root_prompt,
            setting=cfg.first_look,
            window=self.context_window,
            turn=self.turn,
        )
        self.watch.evidence = look  # answers given from it alone are checked against it
        first = first_turn(self.root_prompt, self.turn, prologue=cfg.user_prologue, look=look)
        self._append({"role": "user", "content": first})
        for number in range(1, cfg.max_iterations + 1):
            answer = self._iteration(last=number == cfg.max_iterations)
            if answer is not None:
                return answer
            if self.stopping:
                return self._best_answer(answers.LOOP)
            if scope.guard.exhausted:  # on_subcall_limit="finalize": answer with what it has
                return self._best_answer(answers.LIMIT)
            self._maybe_compact()
        return self._best_answer(answers.MAX_ITERATIONS)

    def _iteration(self, last: bool = False) -> str | None:
        scope = self.scope
        scope.guard.check()
        self.iterations += 1
        number = self.iterations
        observer = scope.observer
        observer.iteration_started(scope.depth, number)
        started = time.perf_counter()
        prompt_snapshot = list(self.messages)
        response = self._ask(self.messages)
        blocks: list[CodeBlock] = []
        final: str | None = None
        for code in runnable_code(response.text):
            result = self._execute(code)
            blocks.append(CodeBlock(code, result))
            if result.final_answer is not None:
                final = result.final_answer
            elif (printed := printed_final(result.stdout)) is not None:
                final = self._final_from_prose(printed)[0]
            observer.code_executed(scope.depth, code, result)
        final, notes, reason = self._judge(response.text, blocks, final)
        elapsed = time.perf_counter() - started
        iteration = RLMIteration(
            prompt=prompt_snapshot,
            response=response.text,
            code_blocks=blocks,
            final_answer=final,
            iteration_time=elapsed,
            usage=response.usage,
        )
        observer.iteration_completed(scope.depth, number, iteration)
        self._count_errors(blocks)
        self._append({"role": "assistant", "content": response.text})
        if final is not None:
            observer.final_answer(scope.depth, final)
            self.finish_reason = reason
            return final
        outputs = [b.result.stdout.strip() for b in blocks if b.result.stdout.strip()]
        if outputs:
            self.last_output = outputs[-1]
        verdict = self.watch.after_iteration(response.text, blocks)
        if verdict.action is Action.FALLBACK:
            fallback = self._run_fallback()
            if fallback is not None:
                observer.final_answer(scope.depth, fallback)
                return fallback
            if self._fallback_block is not None:
                blocks = [*blocks, self._fallback_block]
        elif verdict.action is Action.WARN:
            notes.append(verdict.note)
        elif verdict.action is Action.STOP and not last:
            self.stopping = verdict.note
        why = OUT_OF_ITERATIONS if last else LOOP_DETECTED.format(what=self.stopping)
        ask_best = last or bool(self.stopping)  # this feedback asks for the best answer
        self._append({"role": "user", "content": self._feedback(blocks, notes, ask_best, why)})
        return None

    def _judge(
        self, text: str, blocks: list[CodeBlock], final: str | None
    ) -> tuple[str | None, list[str], str]:
        """(the final answer or None, notes for the model, finish reason) for one reply."""
        notes: list[str] = []
        self.watch.record_blocks(blocks)
        if final is None:
            final, marker_note = self._final_from_prose(find_final(text))
            if marker_note:
                notes.append(marker_note)
            elif final is None and not blocks and text.lstrip().startswith(">"):
                notes.append(QUOTE_ONLY)
        if final is not None:
            final, why_not = answers.vet(final)
            if why_not:
                notes.append(why_not)
        if final is not None and (refusal := self.watch.refuse_final(final)):
            return None, [*notes, refusal], answers.FINAL
        if final is None and blocks:
            auto = self._auto_finalize()
            if auto is not None:
                return auto, notes, answers.AUTO_FINALIZE
        unverified = final is not None and self.watch.unverified(final)
        return final, notes, answers.UNVERIFIED if unverified else answers.FINAL

    def _auto_finalize(self) -> str | None:
        return self.watch.auto_finalize(self.env.resolve_variable)

    def _run_fallback(self) -> str | None:
        """Run the user's fallback code (once); its FINAL or auto-finalize value ends the run."""
        code = self.scope.config.guards.fallback_code or ""
        result = self._execute(code)
        self._fallback_block = CodeBlock(code, result)
        self.scope.observer.code_executed(self.scope.depth, code, result)
        self.watch.record_blocks([self._fallback_block])
        final = answers.first_usable(result.final_answer) or self._auto_finalize()
        if final is not None:
            self.finish_reason = answers.AUTO_FINALIZE
        return final

    def _ask(self, messages: list[Message]) -> LMResponse:
        scope = self.scope
        sampling = scope.sampling
        reserve = reply_reserve({**scope.client.sampling_args, **sampling}, self.context_window)
        fitted = fit_to_window(list(messages), self.context_window, reserve)
        response = scope.guard.call_model(scope.client.complete, fitted, **sampling)
        self.last_usage = response.usage
        scope.observer.model_responded(scope.depth, response.text)
        return response

    def _execute(self, code: str) -> REPLResult:
        result = self.env.execute_code(code)
        result.rlm_calls = self.broker.drain_calls()
        # A limit that tripped while the cell ran (and interrupted it) ends the run now.
        self.scope.guard.check()
        return result

    def _final_from_prose(self, marker: FinalMarker | None) -> tuple[str | None, str]:
        if marker is None:
            return None, ""
        inner = marker.inner
        if marker.kind == "FINAL_VAR":
            name = inner.strip().strip("'\"").strip()
            value = self.env.resolve_variable(name) if name.isidentifier() else None
            if value is None:
                return None, (
                    f"FINAL_VAR({inner}) did not end the run: no REPL variable {name!r}. "
                    "Assign it in a ```repl block first."
                )
            return value, ""
        if inner.isidentifier():
            value = self.env.resolve_variable(inner)
            if value is not None:
                return value, ""
        literal = literal_text(inner)
        return (literal if literal is not None else inner), ""

    def _feedback(
        self, blocks: list[CodeBlock], notes: list[str], last: bool = False, why: str = ""
    ) -> str:
        limit = block_output_chars(self.scope.config.output_limit, self.context_window, len(blocks))
        parts = []
        for i, block in enumerate(blocks, 1):
            header = (
                f"REPL output (block {i} of {len(blocks)}):"
                if len(blocks) > 1
                else ("REPL output:")
            )
            parts.append(f"{header}\n{format_result(block.result, limit)}")
        parts.extend(notes)
        # After the last iteration the same message asks for the best answer, so the
        # conversation keeps alternating roles.
        spent = self.scope.guard.exhausted
        if spent and not last:
            parts.append(BUDGET_SPENT.format(query_line=self._query(), what=spent))
        elif last:
            parts.append(BEST_ANSWER.format(query_line=self._query(), why=why))
        else:
            template = next_turn(blocks, self.watch.refused, self.watch.evidence)
            parts.append(template.format(query_line=self._query()))
        return "\n\n".join(parts)

    def _count_errors(self, blocks: list[CodeBlock]) -> None:
        errors = [b.result.stderr for b in blocks if b.result.had_error]
        if not errors:
            self.consecutive_errors = 0
            return
        self.consecutive_errors += 1
        self.last_error = errors[-1]
        threshold = self.scope.config.limits.max_errors
        if threshold is not None and self.consecutive_errors >= threshold:
            raise ErrorThresholdExceededError(
                self.consecutive_errors, threshold, self.last_error, self.partial_answer()
            )

    def _best_answer(self, reason: str) -> str:
        """Out of iterations, or stopped by the loop guard: the last feedback message asked
        for FINAL. The answer is forced either way, and `reason` says so."""
        response = self._ask(self.messages)
        # A usable FINAL; else answer["content"] if the model set it, its prose if it wrote
        # any, else (it wrote only code, which will not run) the last REPL output it saw.
        final = answers.first_usable(
            self._final_from_prose(final_in_reply(response.text))[0],
            self.partial_answer(),
            strip_code_fences(response.text).strip(),
            self.last_output,
        )
        self.finish_reason = reason if final else answers.EMPTY
        final = final or ""
        self.scope.observer.iteration_completed(
            self.scope.depth,
            self.iterations + 1,
            RLMIteration(
                prompt=list(self.messages),
                response=response.text,
                final_answer=final,
                usage=response.usage,
            ),
        )
        return final

    # -- compaction -------------------------------------------------------------------------
    def _maybe_compact(self) -> None:
        cfg = self.scope.config
        usage = self.last_usage
        if not cfg.compaction or usage is None:
            return
        # The next request is the history plus the newest feedback, which the last call's
        # usage has not seen (and some servers report no usage): count it too.
        size = max(
            usage.total_tokens, count_message_tokens(self.messages, self.scope.client.model_name)
        )
        if size < cfg.compaction_threshold_pct * self.context_window:
            return
        summary = self._ask([*self.messages, {"role": "user", "content": COMPACTION}])
        system, first = self.messages[0], self.messages[1]
        self.messages = [system, first]
        self._append({"role": "assistant", "content": summary.text}, to_history=False)
        self._append({"role": "user", "content": AFTER_COMPACTION}, to_history=False)

    # -- bookkeeping ------------------------------------------------------------------------
    def _append(self, message: Message, *, to_history: bool = True) -> None:
        self.messages.append(message)
        if to_history and self.scope.config.compaction:
            self.env.append_compaction_history(message)

    def _query(self) -> str:
        return query_line(self.root_prompt)

    def partial_answer(self) -> str | None:
        return self.env.partial_answer

    def _start_log(self, meta: QueryMetadata) -> None:
        self.scope.observer.run_started(
            self.scope.depth, run_metadata(self.scope, meta, self.root_prompt)
        )

    def finish(
        self, answer: str | None, start: float, error: RLMError | None = None
    ) -> RLMChatCompletion:
        scope = self.scope
        completion = RLMChatCompletion(
            root_model=scope.client.model_name,
            prompt=prompt_for_record(self.prompt),
            response=answer if answer is not None else "",
            usage_summary=scope.guard.usage_summary(),
            execution_time=time.perf_counter() - start,
            error=f"{type(error).__name__}: {error}" if error else None,
            finish_reason=answers.LIMIT if error else self.finish_reason,
        )
        finish_record(scope, completion)
        return completion
