"""Loopback HTTP servers that speak providers' wire formats, for testing the real SDKs.

`FakeProvider` is a stdlib ThreadingHTTPServer on 127.0.0.1 with a queue of scripted replies
(status, JSON body or server-sent events, headers, delay) and a log of every request it got.
The reply builders below produce the JSON shapes of OpenAI Chat Completions (including the
streaming chunks with usage in the final one), Anthropic Messages and Gemini generateContent.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from loopback import LoopbackServer

# LiteLLM fetches its price map from GitHub at import unless told not to; tests stay offline.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    sse: list[str] | None = None  # raw "data:" payloads (or full "event:...\ndata:..." blocks)
    delay: float = 0.0


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


class FakeProvider(LoopbackServer):
    def __init__(self, default: Callable[[Received], Reply] | None = None):
        self.replies: deque[Reply] = deque()
        self.requests: list[Received] = []
        self.default = default
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                received = Received(
                    "POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
                reply = fake._next(received)
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self._write(reply)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

            def _write(self, reply: Reply) -> None:
                if reply.sse is not None:
                    self.send_response(reply.status)
                    self.send_header("content-type", "text/event-stream")
                    self.send_header("connection", "close")
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    for event in reply.sse:
                        block = event if event.startswith("event:") else f"data: {event}"
                        self.wfile.write(f"{block}\n\n".encode())
                        self.wfile.flush()
                    self.close_connection = True
                    return
                payload = json.dumps(reply.body if reply.body is not None else {}).encode()
                self.send_response(reply.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

        self._serve(Handler)

    def enqueue(self, *replies: Reply) -> None:
        with self._lock:
            self.replies.extend(replies)

    def _next(self, received: Received) -> Reply:
        with self._lock:
            self.requests.append(received)
            if self.replies:
                return self.replies.popleft()
        if self.default is not None:
            return self.default(received)
        return Reply(500, {"error": {"message": "fake server: no reply scripted"}})


def serve() -> Iterator[FakeProvider]:
    """Body of the `fake` fixture each test module defines: a server, closed afterwards."""
    server = FakeProvider()
    yield server
    server.close()


def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Body of each module's autouse fixture: the test guard on (any request to a
    non-loopback host fails loudly) and no real credentials or endpoints from the caller's
    environment."""
    monkeypatch.setenv("RLM_BLOCK_REAL_REQUESTS", "1")
    for name in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "ANTHROPIC_API_KEY",
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
        "OPENROUTER_API_KEY",
        "PORTKEY_API_KEY",
        "AZURE_OPENAI_API_KEY",
        "AZURE_OPENAI_ENDPOINT",
    ):
        monkeypatch.delenv(name, raising=False)


# -- OpenAI Chat Completions ---------------------------------------------------------------
def openai_completion(
    text: str,
    prompt_tokens: int = 10,
    completion_tokens: int = 5,
    model: str = "gpt-4o-mini",
    **usage_extra: Any,
) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            **usage_extra,
        },
    }


def openai_stream(
    pieces: list[str],
    prompt_tokens: int = 10,
    completion_tokens: int = 5,
    model: str = "gpt-4o-mini",
) -> list[str]:
    """Chunks as the API streams them with stream_options.include_usage: content deltas, a
    finish chunk, then a chunk with empty choices carrying usage, then [DONE]."""
    base = {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": model,
    }
    events = [
        json.dumps(
            {
                **base,
                "choices": [
                    {
                        "index": 0,
                        "delta": {"role": "assistant", "content": ""},
                        "finish_reason": None,
                    }
                ],
                "usage": None,
            }
        )
    ]
    for piece in pieces:
        events.append(
            json.dumps(
                {
                    **base,
                    "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
                    "usage": None,
                }
            )
        )
    events.append(
        json.dumps(
            {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": None}
        )
    )
    events.append(
        json.dumps(
            {
                **base,
                "choices": [],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            }
        )
    )
    events.append("[DONE]")
    return events


def openai_error(status: int, message: str, type_: str = "invalid_request_error") -> dict:
    return {"error": {"message": message, "type": type_, "param": None, "code": None}}


# -- Anthropic Messages ----------------------------------------------------------------------
def anthropic_message(
    text: str,
    input_tokens: int = 10,
    output_tokens: int = 5,
    model: str = "claude-haiku-4-5",
    **usage_extra: Any,
) -> dict[str, Any]:
    return {
        "id": "msg_test",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens, **usage_extra},
    }


def anthropic_error(type_: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": type_, "message": message}}


# -- Gemini generateContent ------------------------------------------------------------------
def gemini_response(
    text: str,
    prompt_tokens: int = 10,
    candidates_tokens: int = 5,
    thoughts_tokens: int = 0,
    model: str = "gemini-2.5-flash",
) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "promptTokenCount": prompt_tokens,
        "candidatesTokenCount": candidates_tokens,
        "totalTokenCount": prompt_tokens + candidates_tokens + thoughts_tokens,
    }
    if thoughts_tokens:
        usage["thoughtsTokenCount"] = thoughts_tokens
    return {
        "candidates": [
            {
                "content": {"parts": [{"text": text}], "role": "model"},
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": usage,
        "modelVersion": model,
        "responseId": "resp-test",
    }


def gemini_error(code: int, message: str, status: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status}}


# -- streaming (server-sent events) ----------------------------------------------------------
def anthropic_stream(
    pieces: list[str],
    input_tokens: int = 10,
    output_tokens: int = 5,
    model: str = "claude-haiku-4-5",
) -> list[str]:
    """The Messages API's event stream: message_start (input usage), one text block with a
    delta per piece, message_delta (output usage), message_stop."""

    def event(name: str, data: dict[str, Any]) -> str:
        return f"event: {name}\ndata: {json.dumps({'type': name, **data})}"

    start = anthropic_message("", input_tokens, 1, model)
    start["content"] = []
    start["stop_reason"] = None
    events = [
        event("message_start", {"message": start}),
        event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
    ]
    for piece in pieces:
        events.append(
            event(
                "content_block_delta",
                {"index": 0, "delta": {"type": "text_delta", "text": piece}},
            )
        )
    events.append(event("content_block_stop", {"index": 0}))
    events.append(
        event(
            "message_delta",
            {
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": output_tokens},
            },
        )
    )
    events.append(event("message_stop", {}))
    return events


def gemini_stream(
    pieces: list[str],
    prompt_tokens: int = 10,
    candidates_tokens: int = 5,
    model: str = "gemini-2.5-flash",
) -> list[str]:
    """streamGenerateContent?alt=sse: one response object per piece; the last one carries
    the finish reason and the whole call's usage."""
    events = []
    for i, piece in enumerate(pieces):
        response = gemini_response(piece, prompt_tokens, candidates_tokens, model=model)
        if i < len(pieces) - 1:
            del response["candidates"][0]["finishReason"]
            response["usageMetadata"] = {"promptTokenCount": prompt_tokens}
        events.append(json.dumps(response))
    return events
