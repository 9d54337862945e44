"""`prime`: the shared worker runtime in a Prime Intellect sandbox (`prime-sandboxes` SDK).

Live processes with stdin are a VM-sandbox feature of the SDK (`AsyncSandboxClient.
open_process`), so the sandbox is created with `vm=True`; the SDK is async and runs on the
environment's own event-loop thread. `close()` deletes the sandbox. The key comes from
$PRIME_API_KEY (or `api_key`); it never enters the REPL.

environment_kwargs: api_key, docker_image ("python:3.12-slim"), sandbox_kwargs (more
`CreateSandboxRequest` fields: cpu_cores, memory_gb, timeout_minutes, ...), plus the `sandbox`
keywords that make sense remotely.
"""

from __future__ import annotations

import shlex
import uuid
from collections.abc import Iterator
from typing import Any

import prime_sandboxes

from rlm.environments.remote import LoopThread, RemoteREPL


class _LiveProcess:
    def __init__(self, loop: LoopThread, process: Any):
        self.loop, self.process = loop, process

    def write(self, text: str) -> None:
        self.loop.run(self.process.write_stdin(text.encode("ascii")))

    def output(self) -> Iterator[tuple[str, str]]:
        async def read(on_stdout: Any, on_stderr: Any) -> None:
            import asyncio

            async def drain(stream: Any, sink: Any) -> None:
                async for chunk in stream:
                    sink(chunk.decode("utf-8", "replace"))

            await asyncio.gather(drain(self.process.stdout, on_stdout),
                                 drain(self.process.stderr, on_stderr))  # fmt: skip

        return self.loop.stream(read)

    def kill(self) -> None:
        self.loop.run(self.process.kill(), timeout=30)


class PrimeREPL(RemoteREPL):
    name = "prime"

    def __init__(self, *args: Any, api_key: str | None = None,
                 docker_image: str = "python:3.12-slim",
                 sandbox_kwargs: dict[str, Any] | None = None, **kwargs: Any):  # fmt: skip
        self.api_key = api_key
        self.docker_image = docker_image
        self.sandbox_kwargs = dict(sandbox_kwargs or {})
        self._loop = LoopThread()
        super().__init__(*args, **kwargs)

    def _open_sandbox(self) -> Any:
        self._client = prime_sandboxes.AsyncSandboxClient(api_key=self.api_key)
        request = prime_sandboxes.CreateSandboxRequest(
            name=f"rlm-{uuid.uuid4().hex[:8]}", docker_image=self.docker_image, vm=True,
            **self.sandbox_kwargs,
        )  # fmt: skip
        box = self._loop.run(self._client.create(request))
        self._loop.run(self._client.wait_for_creation(box.id))
        return box

    def _exec(self, argv: list[str]) -> _LiveProcess:
        process = self._loop.run(self._client.open_process(self._box.id, shlex.join(argv)))
        return _LiveProcess(self._loop, process)

    def _close_sandbox(self) -> None:
        try:
            self._loop.run(self._client.delete(self._box.id), timeout=60)
        finally:
            self._loop.close()
