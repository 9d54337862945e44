"""`LMHandler`: the reference's loopback model server for environments used on their own.

Serves `rlm.environments.handler_wire` requests from a client (a `BaseLM`, or any object with
the reference's `completion` method) on 127.0.0.1. Batches run concurrently up to
`batch_max_concurrent`, keep their order, and report a failure in its own slot.
"""

from __future__ import annotations

import socketserver
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rlm.clients.base import BaseLM
from rlm.clients.foreign import as_client
from rlm.environments.handler_wire import LMRequest, LMResponse, socket_recv, socket_send
from rlm.types import ModelUsageSummary, RLMChatCompletion, UsageSummary


class LMHandler:
    def __init__(
        self,
        client: Any,
        host: str = "127.0.0.1",
        port: int = 0,
        other_backend_client: Any = None,
        batch_max_concurrent: int = 16,
    ):
        self.default_client: BaseLM = as_client(client)
        self.other_backend_client = (
            as_client(other_backend_client) if other_backend_client is not None else None
        )
        self.clients: dict[str, BaseLM] = {self.default_client.model_name: self.default_client}
        self.batch_max_concurrent = max(1, int(batch_max_concurrent))
        self._bind = (host, port)
        self._server: socketserver.ThreadingTCPServer | None = None
        self._thread: threading.Thread | None = None

    def register_client(self, model_name: str, client: Any) -> None:
        self.clients[model_name] = as_client(client)

    def get_client(self, model: str | None = None, depth: int = 0) -> BaseLM:
        if model is not None and model in self.clients:
            return self.clients[model]
        if depth >= 1 and self.other_backend_client is not None:
            return self.other_backend_client
        return self.default_client

    # -- serving ----------------------------------------------------------------------------
    def start(self) -> tuple[str, int]:
        if self._server is None:
            handler = self

            class _Conn(socketserver.BaseRequestHandler):
                def handle(self) -> None:
                    socket_send(self.request, handler.serve(socket_recv(self.request)).to_dict())

            socketserver.ThreadingTCPServer.allow_reuse_address = True
            self._server = socketserver.ThreadingTCPServer(self._bind, _Conn)
            self._server.daemon_threads = True
            self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
            self._thread.start()
        return self.address

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def address(self) -> tuple[str, int]:
        if self._server is None:
            raise RuntimeError("LMHandler is not started: call start() or use it as `with`")
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def host(self) -> str:
        return self.address[0]

    @property
    def port(self) -> int:
        return self.address[1]

    def __enter__(self) -> LMHandler:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve(self, data: dict[str, Any]) -> LMResponse:
        request = LMRequest.from_dict(data)
        client = self.get_client(request.model, request.depth)
        if request.prompts is None:
            return self._one(client, request.prompt)
        with ThreadPoolExecutor(
            min(self.batch_max_concurrent, max(1, len(request.prompts)))
        ) as pool:
            replies = list(pool.map(lambda p: self._one(client, p), request.prompts))
        return LMResponse(True, chat_completions=replies)

    @staticmethod
    def _one(client: BaseLM, prompt: Any) -> LMResponse:
        start = time.perf_counter()
        try:
            response = client.complete(prompt)
        except Exception as exc:  # the caller reads the failure in its own slot
            return LMResponse(False, error=f"{type(exc).__name__}: {exc}")
        usage = ModelUsageSummary()
        usage.add(response.usage)
        completion = RLMChatCompletion(
            root_model=client.model_name,
            prompt=prompt,
            response=response.text,
            usage_summary=UsageSummary({client.model_name: usage}),
            execution_time=time.perf_counter() - start,
        )
        return LMResponse(True, chat_completion=completion)

    # -- direct use -------------------------------------------------------------------------
    def completion(self, prompt: Any, model: str | None = None) -> str:
        return self.get_client(model).complete(prompt).text

    def get_usage_summary(self) -> UsageSummary:
        total = UsageSummary()
        for client in {id(c): c for c in self.clients.values()}.values():
            for name, summary in client.get_usage_summary().model_usage_summaries.items():
                total.model_usage_summaries.setdefault(name, ModelUsageSummary()).merge(summary)
        return total
