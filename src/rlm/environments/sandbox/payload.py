"""Contexts and histories prepared for streaming into a sandbox worker.

A str is sent in slices of the original (the host never holds a second full copy; a compact
ASCII str is sent straight from its own buffer); any other value is JSON-encoded once. A
value that is neither str nor JSON data raises `NotSendableError` with what to do instead.
"""

from __future__ import annotations

import ctypes
import json
import sys
from typing import Any

from rlm.environments.sandbox import wire
from rlm.errors import NotSendableError

CHUNK_CHARS = 4 * 1024 * 1024  # a chunk of a str context: at most 16 MiB of UTF-8

_ASCII_HEADER = sys.getsizeof("") - 1  # sizeof(PyASCIIObject): where compact ASCII data starts


def _ascii_buffer(text: str) -> memoryview | None:
    """A read-only view of a compact ASCII str's bytes, without copying (CPython layout);
    None when `text` is not laid out that way. The caller keeps `text` alive."""
    if (
        sys.implementation.name != "cpython"
        or type(text) is not str
        or len(text) < 1 << 20  # small strings: encoding is cheap, skip the trick
        or not text.isascii()  # O(1) in CPython: a flag on the object
        or sys.getsizeof(text) != _ASCII_HEADER + len(text) + 1
    ):
        return None
    raw = (ctypes.c_char * len(text)).from_address(id(text) + _ASCII_HEADER)
    return memoryview(raw).cast("B").toreadonly()


class Payload:
    """A context or history prepared for streaming: a str is sent in slices of the original
    (the host never holds a second full copy); other values are JSON-encoded once."""

    __slots__ = ("kind", "size", "value")

    def __init__(self, value: Any, what: str):
        if isinstance(value, str):
            kind = "ascii" if _ascii_buffer(value) is not None else "str"
            self.kind, self.value, self.size = kind, value, len(value)
            return
        try:
            data = json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
        except (TypeError, ValueError) as exc:
            raise NotSendableError(
                f"{what} of type {type(value).__name__} cannot be sent to the sandbox: it must "
                f"be a str or JSON data ({exc}). Convert it, or use environment='local' for "
                "trusted code."
            ) from exc
        self.kind, self.value, self.size = "json", data, len(data)

    def load(self) -> Any:
        """The value again (a str is the caller's own object; JSON is decoded anew)."""
        return json.loads(self.value) if self.kind == "json" else self.value

    def chunk_count(self) -> int:
        step = CHUNK_CHARS if self.kind == "str" else wire.CHUNK_BYTES
        return max(1, -(-self.size // step))

    def header(self) -> dict[str, Any]:
        return {"kind": self.kind, "chunks": self.chunk_count(), "nbytes": self.size}

    def send(self, channel: wire.Channel) -> None:
        if self.kind == "ascii":
            # An ASCII str's internal buffer already is its UTF-8 encoding: send it as is.
            view = _ascii_buffer(self.value)
            assert view is not None
            for start in range(0, max(len(view), 1), wire.CHUNK_BYTES):
                channel.send_bytes(view[start : start + wire.CHUNK_BYTES])
            return
        if self.kind == "str":
            text: str = self.value
            for start in range(0, max(len(text), 1), CHUNK_CHARS):
                channel.send_bytes(
                    text[start : start + CHUNK_CHARS].encode("utf-8", "surrogatepass")
                )
            return
        view = memoryview(self.value)
        for start in range(0, max(len(view), 1), wire.CHUNK_BYTES):
            channel.send_bytes(view[start : start + wire.CHUNK_BYTES])
