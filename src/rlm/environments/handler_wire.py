"""The LM-handler wire: how an environment used on its own reaches a model over a loopback
socket (`LocalREPL(lm_handler_address=...)`, the reference's `rlm.core.comms_utils`).

Frames are a 4-byte big-endian length plus a JSON object; never pickle. The server side is
`rlm.compat.lm_handler.LMHandler`. Inside an RLM run nothing uses this: the engine's broker
serves `llm_query` directly.
"""

from __future__ import annotations

import json
import socket
import struct
from dataclasses import dataclass, field
from typing import Any

from rlm.types import RLMChatCompletion

MAX_FRAME = 64 * 1024 * 1024
_HEADER = struct.Struct(">I")


@dataclass
class LMRequest:
    prompt: Any = None
    prompts: list[Any] | None = None
    model: str | None = None
    depth: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"prompt": self.prompt, "prompts": self.prompts, "model": self.model,
                "depth": self.depth}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LMRequest:
        return cls(data.get("prompt"), data.get("prompts"), data.get("model"),
                   int(data.get("depth") or 0))  # fmt: skip


@dataclass
class LMResponse:
    success: bool
    chat_completion: RLMChatCompletion | None = None
    error: str | None = None
    chat_completions: list[LMResponse] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "success": self.success,
            "chat_completion": self.chat_completion.to_dict() if self.chat_completion else None,
            "error": self.error,
            "chat_completions": [r.to_dict() for r in self.chat_completions],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LMResponse:
        completion = data.get("chat_completion")
        return cls(
            success=bool(data.get("success")),
            chat_completion=RLMChatCompletion.from_dict(completion) if completion else None,
            error=data.get("error"),
            chat_completions=[cls.from_dict(r) for r in data.get("chat_completions") or []],
        )


def socket_send(sock: socket.socket, obj: dict[str, Any]) -> None:
    data = json.dumps(obj).encode("utf-8")
    if len(data) > MAX_FRAME:
        raise ValueError(f"frame of {len(data)} bytes exceeds {MAX_FRAME}")
    sock.sendall(_HEADER.pack(len(data)) + data)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks = []
    while n:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            raise ConnectionError("LM handler closed the connection")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def socket_recv(sock: socket.socket) -> dict[str, Any]:
    (size,) = _HEADER.unpack(_recv_exact(sock, _HEADER.size))
    if size > MAX_FRAME:
        raise ValueError(f"frame of {size} bytes exceeds {MAX_FRAME}")
    obj = json.loads(_recv_exact(sock, size))
    if not isinstance(obj, dict):
        raise ValueError("LM handler frame is not a JSON object")
    return obj


def send_lm_request(
    address: tuple[str, int], request: LMRequest, timeout: float | None = 300.0
) -> LMResponse:
    with socket.create_connection(address, timeout=timeout) as sock:
        socket_send(sock, request.to_dict())
        return LMResponse.from_dict(socket_recv(sock))


def send_lm_request_batched(
    address: tuple[str, int], prompts: list[Any], model: str | None = None, depth: int = 0,
    timeout: float | None = 300.0,
) -> list[LMResponse]:  # fmt: skip
    reply = send_lm_request(address, LMRequest(prompts=list(prompts), model=model, depth=depth),
                            timeout)  # fmt: skip
    if not reply.success and not reply.chat_completions:
        return [LMResponse(False, error=reply.error)] * len(prompts)
    return reply.chat_completions
