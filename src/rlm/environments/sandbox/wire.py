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

# Shape limits checked on the raw bytes *before* json.loads builds anything. Counting is
# conservative (brackets and separators inside strings count too) and runs at C speed.
# Decoded, a JSON frame can cost ~60 bytes per container and ~50 per scalar: these bounds
# keep the worst frame's decoded size near 100 MB whatever its content.
MAX_CONTAINERS = 1_000_000  # '[' + '{'
MAX_ITEMS = 2_000_000  # ',' + ':'
# Host calls (llm_query & co.) are requests, not results: a smaller frame and shape budget.
# A call frame starts with `{"op":"call"`; a frame above this size must not be a call.
CALL_MAX_BYTES = 16 * 1024 * 1024
CALL_MAX_CONTAINERS = 100_000
CALL_MAX_ITEMS = 400_000
CALL_PREFIX = b'{"op":"call"'


def check_shape(data: bytes | bytearray, max_containers: int, max_items: int) -> None:
    """Refuse a JSON payload whose structure is too big to decode safely."""
    containers = data.count(b"[") + data.count(b"{")
    if containers > max_containers:
        raise WireError(f"JSON frame has {containers} nested values (limit {max_containers})")
    items = data.count(b",") + data.count(b":")
    if items > max_items:
        raise WireError(f"JSON frame has {items} items (limit {max_items})")


def check_call(data: bytes | bytearray) -> None:
    """The call budget (size and shape) for one host-call frame."""
    if len(data) > CALL_MAX_BYTES:
        raise WireError(f"host call of {len(data)} bytes exceeds the {CALL_MAX_BYTES} limit")
    check_shape(data, CALL_MAX_CONTAINERS, CALL_MAX_ITEMS)


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

    def __init__(
        self, rfd: int, wfd: int, max_message: int = DEFAULT_MAX_MESSAGE, guarded: bool = False
    ):
        """`guarded` (the host's end): every JSON frame is shape-checked before decoding, and
        a call frame held to the call budget (see `check_call`)."""
        self.guarded = guarded
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

    def send_encoded(self, data: bytes) -> None:
        """Send a JSON document already encoded with `encode_json`."""
        self._send(KIND_JSON, data)

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
        if self.guarded:
            is_call = payload.startswith(CALL_PREFIX)
            if is_call:
                check_call(payload)
            else:
                check_shape(payload, MAX_CONTAINERS, MAX_ITEMS)
        try:
            value = json.loads(payload)
        except (ValueError, RecursionError) as exc:
            raise WireError(f"undecodable JSON frame: {exc}") from exc
        if self.guarded and isinstance(value, dict) and (value.get("op") == "call") != is_call:
            # A call hidden behind another op (JSON keeps a repeated key's last value) would
            # have dodged the call budget.
            raise WireError("a frame's op does not match its first key")
        return kind, value

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
