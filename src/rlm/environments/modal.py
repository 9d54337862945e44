"""`modal`: the shared worker runtime in a Modal Sandbox (official `modal` SDK).

The relay runs through `Sandbox.exec` with binary-safe text lines on its stdin/stdout.
The sandbox is created on first use (in the app `app_name`, looked up or created) and
terminated by `close()`. Credentials come from Modal's own config (`modal token new`, or
$MODAL_TOKEN_ID/$MODAL_TOKEN_SECRET); they never enter the REPL.

environment_kwargs: image (a `modal.Image`; default Debian slim with Python 3.12), app_name
("rlm-sandboxes"), sandbox_timeout (3600 s), sandbox_kwargs (passed to `Sandbox.create`:
cpu, memory, region, ...), plus the `sandbox` keywords that make sense remotely.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import modal

from rlm.environments.remote import RemoteREPL


class _Exec:
    def __init__(self, process: Any):
        self.process = process

    def write(self, text: str) -> None:
        self.process.stdin.write(text.encode("ascii"))
        self.process.stdin.drain()

    def output(self) -> Iterator[tuple[str, str]]:
        errors: list[str] = []

        def read_stderr() -> None:  # Modal streams stdout and stderr separately
            for piece in self.process.stderr:
                errors.append(piece if isinstance(piece, str) else piece.decode("utf-8", "replace"))

        threading.Thread(target=read_stderr, name="rlm-modal-stderr", daemon=True).start()
        for piece in self.process.stdout:
            yield "stdout", piece if isinstance(piece, str) else piece.decode("ascii", "replace")
        if errors:
            yield "stderr", "".join(errors)

    def kill(self) -> None:
        # A process dies with its sandbox; a lone exec has no kill in the SDK: close stdin
        # (the relay then stops the worker) and let close() terminate the sandbox.
        self.process.stdin.write_eof()
        self.process.stdin.drain()


class ModalREPL(RemoteREPL):
    name = "modal"

    def __init__(self, *args: Any, image: Any = None, app_name: str = "rlm-sandboxes",
                 sandbox_timeout: int = 3600, sandbox_kwargs: dict[str, Any] | None = None,
                 **kwargs: Any):  # fmt: skip
        self.image = image
        self.app_name = app_name
        self.sandbox_timeout = sandbox_timeout
        self.sandbox_kwargs = dict(sandbox_kwargs or {})
        super().__init__(*args, **kwargs)

    def _open_sandbox(self) -> Any:
        app = modal.App.lookup(self.app_name, create_if_missing=True)
        image = self.image or modal.Image.debian_slim(python_version="3.12")
        return modal.Sandbox.create(app=app, image=image, timeout=self.sandbox_timeout,
                                    **self.sandbox_kwargs)  # fmt: skip

    def _exec(self, argv: list[str]) -> _Exec:
        return _Exec(self._box.exec(*argv))

    def _close_sandbox(self) -> None:
        self._box.terminate()
