"""`e2b`: the shared worker runtime in an E2B sandbox (official `e2b` SDK).

The worker's relay runs as a background command with stdin (`commands.run(..., background=True,
stdin=True)`); frames travel as base64 lines through `commands.send_stdin` and the command's
stdout stream. The sandbox is created on first use and killed by `close()`.

environment_kwargs: template ("base"; any template with python3 >= 3.11), sandbox_timeout
(seconds the sandbox may live, 3600), sandbox_kwargs (passed to `Sandbox.create`: api_key,
domain, api_url, metadata, envs, ...), plus the `sandbox` keywords that make sense remotely
(cell_timeout, memory_limit, max_output_chars, python). The key comes from $E2B_API_KEY unless
given; it never enters the REPL.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from typing import Any

import e2b

from rlm.environments.remote import RemoteREPL


class _Command:
    def __init__(self, box: Any, handle: Any):
        self.box, self.handle = box, handle

    def write(self, text: str) -> None:
        self.box.commands.send_stdin(self.handle.pid, text)

    def output(self) -> Iterator[tuple[str, str]]:
        for stdout, stderr, _pty in self.handle:
            if stdout:
                yield "stdout", stdout
            if stderr:
                yield "stderr", stderr

    def kill(self) -> None:
        self.handle.kill()


class E2BREPL(RemoteREPL):
    name = "e2b"

    def __init__(self, *args: Any, template: str = "base", sandbox_timeout: int = 3600,
                 sandbox_kwargs: dict[str, Any] | None = None, **kwargs: Any):  # fmt: skip
        self.template = template
        self.sandbox_timeout = sandbox_timeout
        self.sandbox_kwargs = dict(sandbox_kwargs or {})
        super().__init__(*args, **kwargs)

    def _open_sandbox(self) -> Any:
        return e2b.Sandbox.create(template=self.template, timeout=self.sandbox_timeout,
                                  **self.sandbox_kwargs)  # fmt: skip

    def _exec(self, argv: list[str]) -> _Command:
        # timeout=0: the command lives as long as the REPL, not the SDK's default 60 s.
        handle = self._box.commands.run(shlex.join(argv), background=True, stdin=True, timeout=0)
        return _Command(self._box, handle)

    def _close_sandbox(self) -> None:
        self._box.kill()
