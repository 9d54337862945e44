"""Streaming a turn: typed text chunks, the answer found in the root model's stream, and the
client wrapper that streams root calls while sub-calls stay plain.

The answer of an RLM turn is whatever ends the loop: usually `FINAL(...)` written on its own
line. While the root model streams a reply, `AnswerStreamer` watches for that line outside
code fences and passes the text inside on as it arrives, holding back what may still change
(a closing quote or parenthesis, trailing spaces, anything after a backslash escape). When the
turn ends, `finish(answer)` sends the rest of the true answer; in the rare case that what was
streamed is not a prefix of it (the answer came from code, or from a variable), it sends a
`replace` chunk holding the whole answer.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

from rlm.clients.base import BaseLM
from rlm.types import LMResponse, Prompt

__all__ = ["AgentChunk", "AnswerStreamer", "RootStreamingLM", "answer_text"]

_FINAL_LINE = re.compile(r"^[ \t>*_]*FINAL\(", re.MULTILINE)
_FENCE_LINE = re.compile(r"^[ \t]*```", re.MULTILINE)
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


class AgentChunk(str):
    """A piece of a streamed turn. `kind` is "progress" (what the agent is doing), "answer"
    (the next piece of the answer) or "replace" (the whole answer, replacing the pieces
    streamed before it). Printing every chunk shows progress and the answer as they come."""

    kind: str

    def __new__(cls, text: str, kind: str = "answer") -> AgentChunk:
        chunk = super().__new__(cls, text)
        chunk.kind = kind
        return chunk


def answer_text(chunks: Iterable[str]) -> str:
    """The answer a stream of chunks spells out (progress dropped, replacements applied)."""
    text = ""
    for chunk in chunks:
        kind = getattr(chunk, "kind", "answer")
        if kind == "replace":
            text = str(chunk)
        elif kind == "answer":
            text += chunk
    return text


def _inside_fence(text: str, position: int) -> bool:
    return len(_FENCE_LINE.findall(text, 0, position)) % 2 == 1


def speculative_answer(reply: str) -> str | None:
    """The part of the answer a partial reply already fixes: "" while undecided, None when
    the reply's FINAL names a variable (its value is only known when the run ends)."""
    for match in _FINAL_LINE.finditer(reply):
        if not _inside_fence(reply, match.start()):
            return _settled(reply[match.end() :])
    return ""


def _settled(rest: str) -> str | None:
    body = rest.lstrip()
    if not body:
        return ""
    first = body[0]
    if first in "\"'":
        if len(body) < 3 and body == first * len(body):
            return ""  # one quote or a triple quote? not known yet
        quote = body[:3] if body[:3] in ('"""', "'''") else first
        inner = body[len(quote) :]
        end = inner.find(quote)
        # Unclosed: trailing quote characters may be the start of the closing quote.
        inner = inner[:end] if end >= 0 else inner.rstrip(first)
        escape = inner.find("\\")
        return inner if escape < 0 else inner[:escape]
    word = _IDENTIFIER.match(body)
    if word is not None:
        after = body[word.end() :].lstrip()
        if not after:
            return ""  # a variable name or the first word of prose: wait
        if after.startswith(")"):
            return None  # FINAL(name): resolved from the REPL at the end
    depth = 1
    for i, ch in enumerate(body):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return body[:i].rstrip()
    return body.rstrip()


class AnswerStreamer:
    """Turns one turn's root-model stream into answer chunks (see the module docstring)."""

    def __init__(self, emit: Callable[[AgentChunk], None]):
        self._emit = emit
        self.sent = ""
        self._reply = ""
        self._speculating = True
        self._lock = threading.Lock()

    def reply_started(self) -> None:
        with self._lock:
            self._reply = ""
            # One reply's guess at most: a later reply that also writes FINAL is reconciled
            # by finish().
            self._speculating = not self.sent

    def feed(self, text: str) -> None:
        with self._lock:
            if not self._speculating:
                return
            self._reply += text
            guess = speculative_answer(self._reply)
            if guess is None or not guess.startswith(self.sent):
                self._speculating = False
                return
            piece = guess[len(self.sent) :]
            if not piece:
                return
            self.sent = guess
        self._emit(AgentChunk(piece, "answer"))

    def finish(self, answer: str) -> AgentChunk | None:
        """The chunk that completes the stream so that it spells `answer`."""
        with self._lock:
            self._speculating = False
            sent, self.sent = self.sent, answer
        if answer.startswith(sent):
            rest = answer[len(sent) :]
            return AgentChunk(rest, "answer") if rest else None
        return AgentChunk(answer, "replace")


class RootStreamingLM(BaseLM):
    """Wraps the agent's root client. The call that follows the start of a root iteration
    (the root model's reply: no code runs between the two) streams into the turn's listener;
    every other call (sub-calls, model=name lookups) goes to the wrapped client unchanged."""

    def __init__(self, inner: BaseLM):
        super().__init__(model_name=inner.model_name, timeout=inner.timeout)
        self.inner = inner
        self.context_window = inner.context_window
        self.preferred_system_prompt = inner.preferred_system_prompt
        self._listener: AnswerStreamer | None = None
        self._root_call_next = False
        self._flag_lock = threading.Lock()

    def attach(self, listener: AnswerStreamer | None) -> None:
        self._listener = listener
        self._root_call_next = False

    def root_iteration_started(self) -> None:
        """Called from the root loop's on_iteration_start hook (depth 0)."""
        with self._flag_lock:
            self._root_call_next = True

    def complete(self, prompt: Prompt | dict[str, Any], **sampling: Any) -> LMResponse:
        with self._flag_lock:
            is_root, self._root_call_next = self._root_call_next, False
        listener = self._listener
        if listener is None or not is_root:
            return self.inner.complete(prompt, **sampling)
        listener.reply_started()
        return self.inner.stream_complete(prompt, listener.feed, **sampling)

    async def acomplete(self, prompt: Prompt | dict[str, Any], **sampling: Any) -> LMResponse:
        return await self.inner.acomplete(prompt, **sampling)

    @property
    def native_async(self) -> bool:
        return self.inner.native_async

    def get_usage_summary(self) -> Any:
        return self.inner.get_usage_summary()

    def describe(self) -> dict[str, Any]:
        return self.inner.describe()

    def close(self) -> None:
        """The agent owns the wrapped client and closes it itself."""
