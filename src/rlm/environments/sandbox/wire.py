"""Framing for the host<->worker channel: length-prefixed JSON or raw-bytes frames.

Standard library only: this file is shipped as source to the worker (it never imports rlm).

A frame is a 5-byte header (4-byte big-endian payload length, 1 kind byte) then the payload.
Kind `J` is one UTF-8 JSON document; kind `B` is raw bytes (context chunks, so a gigabyte
string never goes through a JSON escaper). Receivers check the length against a limit before
allocating anything, so a forged header cannot make the other side allocate gigabytes.
Never pickle: nothing on this channel can name a Python object to build.
"""

from __future__ import annotations

import json
import os
import struct
import threading
from typing import Any

HEADER = struct.Struct(">IB")
KIND_JSON = 0x4A  # "J"
KIND_BYTES = 0x42  # "B"
DEFAULT_MAX_MESSAGE = 64 * 1024 * 1024
CHUNK_BYTES = 8 * 1024 * 1024


class WireError(Exception):
    """The peer broke the framing (bad header, oversized or undecodable message, EOF)."""


class ChannelClosed(WireError):
    """The peer closed the channel."""


def encode_json(obj: Any) -> bytes:
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=True)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates (possible in Python str) are not UTF-8: escape them instead.
        return json.dumps(obj, ensure_ascii=True, separators=(",", ":")).encode("ascii")


class Channel:
    """One duplex byte stream (a socketpair end, or a pipe pair) carrying frames."""

    def __init__(self, rfd: int, wfd: int, max_message: int = DEFAULT_MAX_MESSAGE):
        self.rfd = rfd
        self.wfd = wfd
        self.max_message = max_message
        # Buffered: a small frame (header + payload) usually arrives in one read syscall.
        self._reader = open(rfd, "rb", buffering=256 * 1024, closefd=False)  # noqa: SIM115
        self._send_lock = threading.Lock()
        self._closed = False

    # -- sending ------------------------------------------------------------------------
    def send_json(self, obj: Any) -> None:
        self._send(KIND_JSON, encode_json(obj))

    def send_bytes(self, data: bytes | memoryview) -> None:
        self._send(KIND_BYTES, data)

    def _send(self, kind: int, data: bytes | memoryview) -> None:
        if len(data) > self.max_message:
            raise WireError(f"message of {len(data)} bytes exceeds the {self.max_message} limit")
        with self._send_lock:
            if self._closed:  # the fd number may already belong to someone else
                raise ChannelClosed("channel closed")
            self._write_all(HEADER.pack(len(data), kind))
            self._write_all(data)

    def _write_all(self, data: bytes | memoryview) -> None:
        view = memoryview(data).cast("B")
        while view:
            try:
                n = os.write(self.wfd, view)
            except (BrokenPipeError, ConnectionResetError) as exc:
                raise ChannelClosed("peer closed the channel") from exc
            except (BlockingIOError, TimeoutError) as exc:  # SO_SNDTIMEO: the peer stopped reading
                raise WireError("send timed out: the peer stopped reading") from exc
            view = view[n:]

    # -- receiving ----------------------------------------------------------------------
    def recv(self) -> tuple[int, Any]:
        """Next frame as (kind, value): a decoded JSON value, or bytes."""
        header = self._read_exact(HEADER.size)
        length, kind = HEADER.unpack(header)
        if kind not in (KIND_JSON, KIND_BYTES):
            raise WireError(f"unknown frame kind {kind:#x}")
        if length > self.max_message:
            raise WireError(f"frame of {length} bytes exceeds the {self.max_message} limit")
        payload = self._read_exact(length)
        if kind == KIND_BYTES:
            return kind, payload
        try:
            return kind, json.loads(payload)
        except (ValueError, RecursionError) as exc:
            raise WireError(f"undecodable JSON frame: {exc}") from exc

    def recv_bytes_into(self, view: memoryview) -> int:
        """Read one bytes frame straight into `view` (no intermediate copy); returns its size."""
        length, kind = HEADER.unpack(self._read_exact(HEADER.size))
        if kind != KIND_BYTES or length > len(view) or length > self.max_message:
            raise WireError(f"expected a bytes frame of at most {len(view)} bytes")
        got = 0
        while got < length:
            k = self._reader.readinto(view[got:length])
            if not k:
                raise ChannelClosed("peer closed the channel")
            got += k
        return length

    def _read_exact(self, n: int) -> bytes:
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            try:
                k = self._reader.readinto(view[got:])
            except (ConnectionResetError, OSError) as exc:
                raise ChannelClosed(f"channel read failed: {exc}") from exc
            if not k:
                raise ChannelClosed("peer closed the channel")
            got += k
        return bytes(buf) if n < 65536 else buf  # type: ignore[return-value]

    def close(self) -> None:
        """Stop sending for good. Call before the owner closes the fds."""
        with self._send_lock:
            self._closed = True
        self._reader.close()
