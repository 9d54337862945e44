"""Loopback stand-ins for sandbox providers, speaking each SDK's wire format on 127.0.0.1.

The "remote sandbox" is this machine: a command the SDK starts is a real local process, so the
environment under test runs its real worker through the real SDK and the real HTTP stack.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route


class LoopbackServer:
    """Serve an ASGI app with uvicorn on 127.0.0.1 in a thread."""

    def __init__(self, app: Any, lifespan: str = "off"):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan=lifespan))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]},
                                       daemon=True)  # fmt: skip
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.server.started, "uvicorn did not start"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


# -- E2B: REST control plane (/sandboxes) + envd's Connect `process.Process` service ----------
class FakeE2B:
    def __init__(self) -> None:
        from e2b.envd.process import process_pb as pb
        from e2b.envd.process.process_connect import ProcessASGIApplication

        self.pb = pb
        self.sandboxes: dict[str, dict[str, Any]] = {}
        self.procs: dict[int, asyncio.subprocess.Process] = {}
        app = Starlette(routes=[
            Route("/sandboxes", self.create, methods=["POST"]),
            Route("/sandboxes/{sid}", self.delete, methods=["DELETE"]),
            Mount("/", app=ProcessASGIApplication(self)),
        ])  # fmt: skip
        self.server = LoopbackServer(app)

    async def create(self, request: Request) -> Response:
        body = await request.json()
        sid = uuid.uuid4().hex[:12]
        self.sandboxes[sid] = body
        return JSONResponse({"templateID": body.get("templateID", "base"), "sandboxID": sid,
                             "clientID": "loopback", "envdVersion": "0.4.0"}, 201)  # fmt: skip

    async def delete(self, request: Request) -> Response:
        self.sandboxes.pop(request.path_params["sid"], None)
        return Response(status_code=204)

    # process.Process
    async def start(self, request: Any, ctx: Any):
        pb, Oneof = self.pb, __import__("protobuf").Oneof
        cfg = request.process
        proc = await asyncio.create_subprocess_exec(
            cfg.cmd, *cfg.args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, start_new_session=True,
        )  # fmt: skip
        self.procs[proc.pid] = proc
        yield pb.StartResponse(event=pb.ProcessEvent(
            event=Oneof("start", pb.ProcessEvent.StartEvent(pid=proc.pid))))  # fmt: skip
        queue: asyncio.Queue = asyncio.Queue()

        async def pump(stream: Any, name: str) -> None:
            while chunk := await stream.read(65536):
                await queue.put((name, chunk))
            await queue.put(None)

        pumps = [asyncio.ensure_future(pump(proc.stdout, "stdout")),
                 asyncio.ensure_future(pump(proc.stderr, "stderr"))]  # fmt: skip
        try:
            open_streams = 2
            while open_streams:
                item = await queue.get()
                if item is None:
                    open_streams -= 1
                    continue
                data = pb.ProcessEvent.DataEvent(output=Oneof(item[0], item[1]))
                yield pb.StartResponse(event=pb.ProcessEvent(event=Oneof("data", data)))
            code = await proc.wait()
            end = pb.ProcessEvent.EndEvent(exit_code=code, exited=True, status=f"exit {code}")
            yield pb.StartResponse(event=pb.ProcessEvent(event=Oneof("end", end)))
        finally:
            for task in pumps:
                task.cancel()
            if proc.returncode is None:
                proc.kill()
            self.procs.pop(proc.pid, None)

    async def send_input(self, request: Any, ctx: Any):
        proc = self.procs[request.process.selector.value]
        proc.stdin.write(request.input.input.value)
        await proc.stdin.drain()
        return self.pb.SendInputResponse()

    async def send_signal(self, request: Any, ctx: Any):
        proc = self.procs.get(request.process.selector.value)
        if proc is not None and proc.returncode is None:
            proc.kill()
        return self.pb.SendSignalResponse()

    async def close_stdin(self, request: Any, ctx: Any):
        proc = self.procs.get(request.process.selector.value)
        if proc is not None:
            proc.stdin.close()
        return self.pb.CloseStdinResponse()

    async def _unimplemented(self, *args: Any) -> Any:
        from connectrpc.code import Code
        from connectrpc.errors import ConnectError

        raise ConnectError(Code.UNIMPLEMENTED, "not part of the fake")

    list = update = stream_input = _unimplemented

    def connect(self, request: Any, ctx: Any) -> Any:
        return self._unimplemented()

    def env_kwargs(self) -> dict[str, Any]:
        url = self.server.url
        return {"sandbox_kwargs": {"api_key": "e2b_" + "0" * 40, "api_url": url,
                                   "sandbox_url": url}}  # fmt: skip


# -- registry ------------------------------------------------------------------------------
def start(name: str) -> Any:
    """A running fake for `name`, or why there is none (a string: the test skips with it)."""
    import importlib.util

    sdk = {"e2b": "e2b", "modal": "modal", "daytona": "daytona", "prime": "prime_sandboxes"}[name]
    if importlib.util.find_spec(sdk) is None:
        return f"its SDK is not installed (pip install 'rlm[{name}]')"
    if name == "e2b":
        return FakeE2B()
    return NO_FAKE[name]


NO_FAKE = {
    "modal": "Modal's SDK speaks gRPC (grpclib over HTTP/2) to api.modal.com with a "
    "token-authenticated client handshake; there is no loopback fake of that API here",
    "daytona": "no loopback fake of Daytona's REST + toolbox API yet",
    "prime": "no loopback fake of Prime Intellect's sandbox REST API yet",
}
