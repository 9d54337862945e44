"""`daytona`: the shared worker runtime in a Daytona sandbox (official `daytona` SDK).

Each worker is an async command in its own session (`execute_session_command(...,
run_async=True)`); frames go in through `send_session_command_input` and come back through
the streamed session logs. Deleting the session stops the worker; `close()` deletes the
sandbox. The key comes from $DAYTONA_API_KEY (or `daytona_config`); it never enters the REPL.

environment_kwargs: daytona_config (dict for `DaytonaConfig`: api_key, api_url, target),
create_params (a `CreateSandboxFromImageParams`/`...FromSnapshotParams`; default: the
provider's default Python sandbox), plus the `sandbox` keywords that make sense remotely.
"""

from __future__ import annotations

import shlex
import uuid
from collections.abc import Iterator
from typing import Any

import daytona

from rlm.environments.remote import LoopThread, RemoteREPL


class _SessionCommand:
    def __init__(self, box: Any, loop: LoopThread, session: str, command: str):
        self.box, self.loop, self.session = box, loop, session
        box.process.create_session(session)
        request = daytona.SessionExecuteRequest(command=command, run_async=True)
        self.command_id = box.process.execute_session_command(session, request).cmd_id

    def write(self, text: str) -> None:
        self.box.process.send_session_command_input(self.session, self.command_id, text)

    def output(self) -> Iterator[tuple[str, str]]:
        return self.loop.stream(lambda out, err: self.box.process.get_session_command_logs_async(
            self.session, self.command_id, out, err))  # fmt: skip

    def kill(self) -> None:
        self.box.process.delete_session(self.session)


class DaytonaREPL(RemoteREPL):
    name = "daytona"

    def __init__(self, *args: Any, daytona_config: dict[str, Any] | None = None,
                 create_params: Any = None, **kwargs: Any):  # fmt: skip
        self.daytona_config = dict(daytona_config or {})
        self.create_params = create_params
        self._loop = LoopThread()
        super().__init__(*args, **kwargs)

    def _open_sandbox(self) -> Any:
        self._client = daytona.Daytona(daytona.DaytonaConfig(**self.daytona_config))
        if self.create_params is None:
            return self._client.create()
        return self._client.create(self.create_params)

    def _exec(self, argv: list[str]) -> _SessionCommand:
        session = f"rlm-{uuid.uuid4().hex[:12]}"
        return _SessionCommand(self._box, self._loop, session, shlex.join(argv))

    def _close_sandbox(self) -> None:
        try:
            self._client.delete(self._box)
        finally:
            self._loop.close()
