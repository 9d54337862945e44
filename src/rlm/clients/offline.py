"""Offline backends that play the part of a model: `scripted` and `function`.

They are how tests, examples and users' own tests drive the engine without a network.
Token counts are estimated (about four characters a token) so limits and usage summaries
behave as they would with a real provider.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable, Iterable
from typing import Any

from rlm.clients.base import BaseLM, as_messages
from rlm.errors import ConfigurationError, ScriptExhaustedError
from rlm.types import CallUsage, LMResponse, Message, Prompt


def estimate_tokens(text: str) -> int:
    return (len(text) + 3) // 4


def _usage_for(model: str, messages: list[Message], text: str) -> CallUsage:
    prompt_chars = sum(len(str(m.get("content", ""))) for m in messages)
    return CallUsage(
        model=model,
        input_tokens=(prompt_chars + 3) // 4,
        output_tokens=estimate_tokens(text),
        cost=None,
    )


class ScriptedLM(BaseLM):
    """Returns the given responses in order; running out raises `ScriptExhaustedError`."""

    def __init__(
        self,
        responses: Iterable[str],
        model_name: str = "scripted",
        cost_per_call: float | None = None,
        **kwargs: Any,
    ):
        super().__init__(model_name=model_name, **kwargs)
        self.responses = list(responses)
        if not all(isinstance(r, str) for r in self.responses):
            raise ConfigurationError("scripted backend: every response must be a str")
        self.cost_per_call = cost_per_call
        self.calls: list[list[Message]] = []
        self._lock = threading.Lock()

    def complete(self, prompt: Prompt | dict[str, Any], **sampling: Any) -> LMResponse:
        messages = as_messages(prompt)
        with self._lock:
            index = len(self.calls)
            if index >= len(self.responses):
                raise ScriptExhaustedError(
                    f"scripted backend ran out of responses after {len(self.responses)} "
                    "call(s); add more to backend_kwargs['responses']",
                    model=self.model_name,
                )
            self.calls.append(messages)
            text = self.responses[index]
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
        **kwargs: Any,
    ):
        if not callable(function):
            raise ConfigurationError(
                "function backend: backend_kwargs['function'] must be callable"
            )
        super().__init__(model_name=model_name, **kwargs)
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
