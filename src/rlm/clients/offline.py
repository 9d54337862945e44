"""Offline backends that play the part of a model: `scripted` and `function`.

They are how tests, examples and users' own tests drive the engine without a network.
Token counts come from `rlm.tokens` (tiktoken when its encoding is available, else about
four characters a token) so limits and usage summaries behave as with a real provider.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

from rlm.clients.base import BaseLM, as_messages
from rlm.errors import ConfigurationError, ScriptExhaustedError
from rlm.tokens import count_tokens
from rlm.types import CallUsage, LMResponse, Message, Prompt


def _usage_for(model: str, messages: list[Message], text: str) -> CallUsage:
    prompt = "".join(str(m.get("content", "")) for m in messages)
    return CallUsage(
        model=model,
        input_tokens=count_tokens(prompt),
        output_tokens=count_tokens(text),
        cost=None,
    )


class ScriptRule:
    """A sub-call rule of the `scripted` backend: when `pattern` is in the prompt (or matches
    it, with regex=True), reply `response` instead of taking the next scripted response."""

    __slots__ = ("_regex", "once", "pattern", "response")

    def __init__(self, pattern: str, response: str, *, regex: bool = False, once: bool = False):
        if not isinstance(pattern, str) or not isinstance(response, str):
            raise ConfigurationError("scripted backend: a rule's pattern and response are str")
        self.pattern = pattern
        self.response = response
        self.once = once
        try:
            self._regex = re.compile(pattern) if regex else None
        except re.error as exc:
            raise ConfigurationError(
                f"scripted backend: bad rule regex {pattern!r}: {exc}"
            ) from exc

    def matches(self, text: str) -> bool:
        return bool(self._regex.search(text)) if self._regex else self.pattern in text

    @classmethod
    def of(cls, spec: Any) -> ScriptRule:
        if isinstance(spec, ScriptRule):
            return spec
        if isinstance(spec, dict):
            return cls(**spec)
        if isinstance(spec, (list, tuple)) and len(spec) == 2:
            return cls(spec[0], spec[1])
        raise ConfigurationError(
            "scripted backend: a rule is {'pattern', 'response', 'regex'?, 'once'?} or a "
            f"(pattern, response) pair, not {spec!r}"
        )


class ScriptedLM(BaseLM):
    """Returns the given responses in order; running out raises `ScriptExhaustedError`.

    `rules` (or `add_rule`) answer matching prompts first, like pyrlm-runtime's FakeAdapter:
    a rule is tried against the call's latest user message (a sub-call's whole prompt; for a
    root call its newest turn, so code quoted in earlier turns does not match), in order."""

    def __init__(
        self,
        responses: Iterable[str] = (),
        model_name: str = "scripted",
        cost_per_call: float | None = None,
        rules: Iterable[Any] | None = None,
        context_window: int | None = None,
        **kwargs: Any,
    ):
        super().__init__(model_name=model_name, **kwargs)
        self.context_window = context_window  # play a model with this window (tokens)
        self.responses = list(responses)
        if not all(isinstance(r, str) for r in self.responses):
            raise ConfigurationError("scripted backend: every response must be a str")
        self.rules = [ScriptRule.of(r) for r in rules or ()]
        self.cost_per_call = cost_per_call
        self.calls: list[list[Message]] = []
        self._next = 0  # the next scripted response (rule-answered calls do not use one)
        self._lock = threading.Lock()

    def add_rule(
        self, pattern: str, response: str, *, regex: bool = False, once: bool = False
    ) -> None:
        with self._lock:
            self.rules.append(ScriptRule(pattern, response, regex=regex, once=once))

    def _reply(self, messages: list[Message]) -> str:
        latest = next((m for m in reversed(messages) if m.get("role") == "user"), None)
        text = str(latest.get("content", "")) if latest else ""
        for rule in self.rules:
            if rule.matches(text):
                if rule.once:
                    self.rules.remove(rule)
                return rule.response
        if self._next >= len(self.responses):
            raise ScriptExhaustedError(
                f"scripted backend ran out of responses after {len(self.responses)} "
                "call(s) and no rule matched; add responses to backend_kwargs['responses'] "
                "or a rule to backend_kwargs['rules']",
                model=self.model_name,
            )
        self._next += 1
        return self.responses[self._next - 1]

    def complete(self, prompt: Prompt | dict[str, Any], **sampling: Any) -> LMResponse:
        messages = as_messages(prompt)
        with self._lock:
            text = self._reply(messages)
            self.calls.append(messages)
        usage = _usage_for(self.model_name, messages, text)
        if self.cost_per_call is not None:
            usage = CallUsage(
                usage.model, usage.input_tokens, usage.output_tokens, self.cost_per_call
            )
        return LMResponse(text, self.record(usage))


class FunctionLM(BaseLM):
    """`function(messages) -> str` plays the model. It may also return an `LMResponse` to
    report exact usage, may accept a second argument (the sampling keywords), and may be an
    `async def` (then concurrent sub-calls share one event loop, as a real async client).
    A function returning an iterable of str pieces (a generator) streams them."""

    def __init__(
        self,
        function: Callable[..., str | LMResponse],
        model_name: str = "function",
        cost_per_call: float | None = None,
        context_window: int | None = None,
        **kwargs: Any,
    ):
        if not callable(function):
            raise ConfigurationError(
                "function backend: backend_kwargs['function'] must be callable"
            )
        super().__init__(model_name=model_name, **kwargs)
        self.context_window = context_window  # play a model with this window (tokens)
        self.function = function
        self.cost_per_call = cost_per_call
        try:
            params = inspect.signature(function).parameters
            self._wants_sampling = len(params) >= 2 or any(
                p.kind is p.VAR_KEYWORD for p in params.values()
            )
        except (TypeError, ValueError):
            self._wants_sampling = False

    @property
    def native_async(self) -> bool:
        return inspect.iscoroutinefunction(self.function)

    def _invoke(self, messages: list[Message], sampling: dict[str, Any]) -> Any:
        merged = {**self.sampling_args, **sampling}
        return self.function(messages, merged) if self._wants_sampling else self.function(messages)

    def complete(self, prompt: Prompt | dict[str, Any], **sampling: Any) -> LMResponse:
        messages = as_messages(prompt)
        out = self._invoke(messages, sampling)
        if inspect.isawaitable(out):
            out = asyncio.run(_await(out))
        return self._response(messages, out)

    async def acomplete(self, prompt: Prompt | dict[str, Any], **sampling: Any) -> LMResponse:
        if not self.native_async:
            return await super().acomplete(prompt, **sampling)
        messages = as_messages(prompt)
        return self._response(messages, await self._invoke(messages, sampling))

    def stream_complete(
        self, prompt: Prompt | dict[str, Any], on_text: Callable[[str], None], **sampling: Any
    ) -> LMResponse:
        """A function that returns an iterable of str pieces (e.g. a generator) streams them;
        any other function's answer arrives as one piece."""
        messages = as_messages(prompt)
        out = self._invoke(messages, sampling)
        if inspect.isawaitable(out):
            out = asyncio.run(_await(out))
        if _is_pieces(out):
            pieces = []
            for piece in out:
                pieces.append(str(piece))
                on_text(pieces[-1])
            return self._response(messages, "".join(pieces))
        response = self._response(messages, out)
        if response.text:
            on_text(response.text)
        return response

    def _response(self, messages: list[Message], out: Any) -> LMResponse:
        if _is_pieces(out):
            out = "".join(str(piece) for piece in out)
        if isinstance(out, LMResponse):
            return LMResponse(out.text, self.record(out.usage))
        if not isinstance(out, str):
            raise ConfigurationError(
                f"function backend: the function returned {type(out).__name__}, expected str"
            )
        usage = _usage_for(self.model_name, messages, out)
        if self.cost_per_call is not None:
            usage = CallUsage(
                usage.model, usage.input_tokens, usage.output_tokens, self.cost_per_call
            )
        return LMResponse(out, self.record(usage))


def _is_pieces(out: Any) -> bool:
    return not isinstance(out, (str, bytes, LMResponse, dict)) and isinstance(out, Iterable)


async def _await(awaitable: Any) -> Any:
    return await awaitable
