"""The ASGI app behind `rlm serve` (Starlette): /v1/chat/completions (plain and SSE) and
/v1/models, bearer-key auth, and a bounded number of concurrent runs (429 past it)."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from rlm.errors import ConfigurationError, LimitExceededError, RLMError
from rlm.serve import protocol as wire

log = logging.getLogger(__name__)


@dataclass
class ServeConfig:
    """`rlm_kwargs`: RLM keyword arguments for every run (a request's `rlm` field may tighten
    them). `api_key`: required bearer token (None: no auth; the CLI only allows that on
    loopback). `max_concurrent`: runs at once; past it, 429 with `Retry-After`."""

    rlm_kwargs: dict[str, Any] = field(default_factory=dict)
    model_name: str = "rlm"
    api_key: str | None = None
    max_concurrent: int = 4
    log_dir: str | None = None
    retry_after: int = 1
    heartbeat: float = 10.0  # seconds between SSE keep-alive comments during a long run


class _Gate:
    """Counts running completions; refuses instead of queueing past the limit."""

    def __init__(self, limit: int):
        self.limit, self.active = limit, 0

    def try_enter(self) -> bool:
        if self.active >= self.limit:
            return False
        self.active += 1  # single event-loop thread: no lock needed
        return True

    def leave(self) -> None:
        self.active -= 1


def _error(status: int, message: str, kind: str, code: str | None = None,
           headers: dict[str, str] | None = None) -> JSONResponse:  # fmt: skip
    return JSONResponse(wire.error_body(message, kind, code), status, headers=headers)


class RLMServer:
    def __init__(self, config: ServeConfig):
        if config.max_concurrent < 1:
            raise ConfigurationError("max_concurrent must be >= 1")
        from rlm import RLM

        RLM(**config.rlm_kwargs).close()  # bad server settings fail at start, not per request
        self.config = config
        self.gate = _Gate(config.max_concurrent)

    # -- auth and admission ---------------------------------------------------------------
    def _auth_error(self, request: Request) -> Response | None:
        key = self.config.api_key
        if key is None:
            return None
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), key.encode()):
            return None
        return _error(
            401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
        )

    # -- endpoints ----------------------------------------------------------------------------
    async def models(self, request: Request) -> Response:
        if (denied := self._auth_error(request)) is not None:
            return denied
        entry = {"id": self.config.model_name, "object": "model", "created": 0, "owned_by": "rlm"}
        return JSONResponse({"object": "list", "data": [entry]})

    async def chat(self, request: Request) -> Response:
        if (denied := self._auth_error(request)) is not None:
            return denied
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            return _error(400, "the body is not valid JSON", "invalid_request_error")
        try:
            chat = wire.parse_request(body, self.config.rlm_kwargs)
        except ConfigurationError as exc:
            return _error(400, str(exc), "invalid_request_error")
        if not self.gate.try_enter():
            return _error(429, f"all {self.gate.limit} run slots are busy; retry shortly",
                          "rate_limit_error", "server_busy",
                          {"Retry-After": str(self.config.retry_after)})  # fmt: skip
        # The slot is freed when the run ends, however the response ends (even a stream the
        # client dropped before it started).
        task = asyncio.ensure_future(self._run(chat))
        task.add_done_callback(self._release)
        if chat.stream:
            return StreamingResponse(self._stream(chat, task), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache"})  # fmt: skip
        try:
            outcome = await task
        except ConfigurationError as exc:
            return _error(400, str(exc), "invalid_request_error")
        except RLMError as exc:
            return _error(502, f"{type(exc).__name__}: {exc}", "api_error", "rlm_run_failed")
        cid = wire.new_completion_id()
        return JSONResponse(wire.completion_body(cid, chat.model, outcome),
                            headers={"x-rlm-log-id": outcome["rlm"]["log_id"] or ""})  # fmt: skip

    def _release(self, task: asyncio.Future) -> None:
        self.gate.leave()
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.info("rlm serve run ended with %s: %s", type(exc).__name__, exc)

    # -- running ------------------------------------------------------------------------------
    async def _run(self, chat: wire.ChatRequest) -> dict[str, Any]:
        from rlm import RLM
        from rlm.logger import RLMLogger

        logger = (
            RLMLogger(log_dir=self.config.log_dir, file_name="serve")
            if self.config.log_dir
            else None
        )
        rlm = RLM(**{**self.config.rlm_kwargs, **chat.overrides}, logger=logger)
        start = time.perf_counter()
        info: dict[str, Any] = {}
        try:
            result = await rlm.acompletion(chat.context, root_prompt=chat.query)
            content, finish, usage = result.response, "stop", result.usage_summary.to_dict()
            info["finish_reason"] = getattr(result, "finish_reason", None) or "stop"
        except LimitExceededError as exc:
            # A limit tripped: the best answer so far, marked the way OpenAI marks a cut-off.
            content, finish, usage = exc.partial_answer or "", "length", None
            info.update(finish_reason="limit", error=str(exc), error_type=type(exc).__name__)
        finally:
            rlm.close()
        path = getattr(logger, "log_file_path", None)
        info.update(log_id=Path(path).stem if path else None,
                    execution_time=round(time.perf_counter() - start, 6), usage_summary=usage)  # fmt: skip
        return {"content": content, "openai_finish_reason": finish, "usage": usage, "rlm": info}

    async def _stream(self, chat: wire.ChatRequest, task: asyncio.Future) -> AsyncIterator[str]:
        """SSE: the role first, keep-alive comments while the RLM works, then the answer, the
        finish reason (and usage when asked), and [DONE]. A client that disconnects cancels
        the run."""
        cid = wire.new_completion_id()

        def event(data: dict[str, Any]) -> str:
            return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

        try:
            yield event(wire.chunk(cid, chat.model, {"role": "assistant", "content": ""}))
            while True:
                done, _ = await asyncio.wait({task}, timeout=self.config.heartbeat)
                if done:
                    break
                yield ": keep-alive\n\n"
            try:
                outcome = task.result()
            except RLMError as exc:
                kind = (
                    "invalid_request_error" if isinstance(exc, ConfigurationError) else "api_error"
                )
                yield event(wire.error_body(f"{type(exc).__name__}: {exc}", kind))
                yield "data: [DONE]\n\n"
                return
            if outcome["content"]:
                yield event(wire.chunk(cid, chat.model, {"content": outcome["content"]}))
            yield event(wire.chunk(cid, chat.model, {}, outcome["openai_finish_reason"],
                                   rlm=outcome["rlm"]))  # fmt: skip
            if chat.include_usage:
                usage_chunk = wire.chunk(
                    cid, chat.model, {}, usage=wire.openai_usage(outcome["usage"])
                )
                usage_chunk["choices"] = []
                yield event(usage_chunk)
            yield "data: [DONE]\n\n"
        finally:
            if not task.done():
                task.cancel()  # the client went away: acompletion stops the run's whole tree
                with contextlib.suppress(asyncio.CancelledError, RLMError):
                    await task


def create_app(config: ServeConfig) -> Starlette:
    """The ASGI application; run it with any ASGI server (`rlm serve` uses uvicorn)."""
    server = RLMServer(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # acompletion runs each RLM on the loop's default executor: size it for the limit.
        pool = ThreadPoolExecutor(config.max_concurrent + 2, thread_name_prefix="rlm-serve")
        asyncio.get_running_loop().set_default_executor(pool)
        yield
        pool.shutdown(wait=False, cancel_futures=True)

    app = Starlette(
        routes=[
            Route("/v1/chat/completions", server.chat, methods=["POST"]),
            Route("/v1/models", server.models, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.rlm_server = server
    return app
