"""What every provider-sandbox environment (modal, e2b, daytona, prime) shares: the same
worker runtime and wire protocol as `sandbox`/`docker`, carried over a provider's process API.

Provider SDKs expose a process with text stdin/stdout, not a socket. So inside the provider's
sandbox a tiny stdlib relay (`RELAY`, run with `python3 -c`) starts the worker on a local
socketpair and carries its frames as base64 lines over its own stdin/stdout; on this side,
`Bridge` turns those lines back into frames on a local socket that `WorkerProcess` reads as
usual. Nothing but JSON and context bytes crosses, exactly as with the local sandbox; the
provider's sandbox (a VM or container) is the isolation boundary, and the worker applies its
rlimits inside it.

An adapter subclasses `RemoteREPL` and implements `_open_sandbox`, `_exec` and
`_close_sandbox` with its SDK; `_exec` returns a `RemoteStream`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import os
import shlex
import socket
import threading
from abc import abstractmethod
from collections.abc import Iterator
from typing import Any, Protocol

from rlm.environments.sandbox.env import GiB, SandboxREPL, _Payload
from rlm.environments.sandbox.process import BOOTSTRAP, WorkerLost, WorkerProcess
from rlm.errors import REPLEnvironmentError

log = logging.getLogger(__name__)
REMOTE_TMP = "/tmp"
REMOTE_MEMORY = 4 * GiB  # the worker's address-space cap unless memory_limit says otherwise
LINE_BYTES = 48 * 1024  # raw bytes per base64 line (64 KiB of text)

# Runs in the provider's sandbox under `python3 -I -B -c`; standard library only.
RELAY = r"""
import base64, os, socket, subprocess, sys, tempfile, threading
BOOT = %r
here, there = socket.socketpair()
work = tempfile.mkdtemp(prefix="rlm-")
proc = subprocess.Popen([sys.executable, "-I", "-B", "-c", BOOT, str(there.fileno()),
    str(there.fileno())], pass_fds=[there.fileno()], stdin=subprocess.DEVNULL,
    stdout=subprocess.DEVNULL, cwd=work)
there.close()
out = sys.stdout
def up():
    while True:
        data = here.recv(%d)
        if not data:
            break
        out.write(base64.b64encode(data).decode("ascii") + "\n")
        out.flush()
    out.write("!\n")
    out.flush()
t = threading.Thread(target=up, daemon=True)
t.start()
for line in sys.stdin:
    if line.strip():
        here.sendall(base64.b64decode(line))
here.shutdown(socket.SHUT_WR)
t.join(5)
proc.kill()
""" % (BOOTSTRAP, LINE_BYTES)  # noqa: UP031 - the source carries braces of its own


def relay_argv(python: str) -> list[str]:
    return [python, "-I", "-B", "-c", RELAY]


def relay_command(python: str) -> str:
    """The relay as one shell command line, for SDKs that take a string."""
    return shlex.join(relay_argv(python))


class RemoteStream(Protocol):
    """A process started in the provider's sandbox (what an adapter's `_exec` returns)."""

    def write(self, text: str) -> None:
        """Send ASCII text to the process's stdin."""

    def output(self) -> Iterator[tuple[str, str]]:
        """("stdout" | "stderr", text) pieces until the process ends."""

    def kill(self) -> None:
        """Stop the process (and whatever it started). Best effort; never raises."""


class LoopThread:
    """An event loop on its own thread, for adapters whose SDK is async (or streams only
    through callbacks): `run(coro)` blocks for a result, `stream(fn)` turns an async
    callback-driven reader into the (kind, text) iterator `RemoteStream.output` wants."""

    def __init__(self) -> None:
        import asyncio

        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="rlm-remote-loop", daemon=True).start()

    def run(self, coro: Any, timeout: float | None = None) -> Any:
        import asyncio

        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stream(self, reader: Any) -> Iterator[tuple[str, str]]:
        """`reader(on_stdout, on_stderr)` is a coroutine that calls them until the end."""
        import asyncio
        import queue

        pieces: queue.Queue = queue.Queue()
        done = object()

        async def pump() -> None:
            try:
                await reader(
                    lambda t: pieces.put(("stdout", t)), lambda t: pieces.put(("stderr", t))
                )
            finally:
                pieces.put(done)

        asyncio.run_coroutine_threadsafe(pump(), self.loop)
        while (item := pieces.get()) is not done:
            yield item

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)


class RemoteHandle:
    """Stands in for `subprocess.Popen` in `WorkerProcess`: poll/wait/kill and a stderr pipe."""

    pid = None
    stdin = None
    stdout = None

    def __init__(self, stream: RemoteStream):
        self.stream = stream
        self.returncode: int | None = None
        self._ended = threading.Event()
        self._lock = threading.Lock()
        read_fd, self._stderr_fd = os.pipe()
        self.stderr = os.fdopen(read_fd, "rb")

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self._ended.wait(timeout):
            import subprocess

            raise subprocess.TimeoutExpired("remote worker", timeout or 0)
        return self.returncode or 0

    def kill(self) -> None:
        try:
            self.stream.kill()
        except Exception as exc:  # the provider may already have dropped it
            log.info("stopping a remote worker failed: %s", exc)
        self.ended(-9)

    def ended(self, code: int) -> None:
        with self._lock:  # once only: a second close could hit a reused fd number
            if self.returncode is not None:
                return
            self.returncode = code
            os.close(self._stderr_fd)
        self._ended.set()

    def stderr_write(self, text: str) -> None:
        with self._lock, contextlib.suppress(OSError):
            if self.returncode is None:
                os.write(self._stderr_fd, text.encode("utf-8", "replace"))


class Bridge:
    """Frames on a local socket <-> base64 lines on the remote process's stdin/stdout."""

    def __init__(self, stream: RemoteStream):
        self.handle = RemoteHandle(stream)
        self.host_sock, self._mine = socket.socketpair()
        threading.Thread(target=self._uplink, name="rlm-remote-up", daemon=True).start()
        threading.Thread(target=self._downlink, name="rlm-remote-down", daemon=True).start()

    def _uplink(self) -> None:  # host frames -> remote stdin
        # This thread owns the socket's lifetime: the downlink only shuts it down (which ends
        # the recv here). Closing it under a blocked recv would free the fd number for the
        # next worker's socket, and this thread would then read that worker's frames.
        try:
            while data := self._mine.recv(LINE_BYTES):
                self.handle.stream.write(base64.b64encode(data).decode("ascii") + "\n")
        except Exception as exc:  # the channel or the provider went away: the worker is lost
            log.info("remote worker uplink ended: %s", exc)
            self.handle.kill()
        finally:
            self._mine.close()

    def _downlink(self) -> None:  # remote stdout lines -> host frames
        buffer = ""
        try:
            for kind, text in self.handle.stream.output():
                if kind != "stdout":
                    self.handle.stderr_write(text)
                    continue
                buffer += text
                *lines, buffer = buffer.split("\n")
                for line in lines:
                    if line == "!":  # the relay saw the worker close its end
                        raise EOFError
                    if line:
                        self._mine.sendall(base64.b64decode(line, validate=True))
        except (EOFError, binascii.Error, OSError) as exc:
            if not isinstance(exc, EOFError):
                log.warning("remote worker sent a bad line (%s); dropping the channel", exc)
        except Exception as exc:  # the provider's stream failed
            log.warning("remote worker stream failed: %s", exc)
        finally:
            self.handle.ended(0)
            with contextlib.suppress(OSError):
                self._mine.shutdown(socket.SHUT_RDWR)


class RemoteREPL(SandboxREPL):
    """Base of the provider environments. environment_kwargs: everything `sandbox` takes that
    makes sense remotely (cell_timeout, memory_limit, max_output_chars, ...), `python` (the
    interpreter in the provider's image, default "python3"), plus each provider's own."""

    layers = ("rlimits",)  # the provider's sandbox is the boundary; the worker adds rlimits
    memory_in_place = False
    provider = "remote"

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("python", "python3")
        kwargs.setdefault("start_timeout", 300.0)
        self._box: Any = None
        super().__init__(*args, **kwargs)

    # -- what an adapter implements -----------------------------------------------------------
    @abstractmethod
    def _open_sandbox(self) -> Any:
        """Create (or connect to) the provider's sandbox; called once per environment."""

    @abstractmethod
    def _exec(self, argv: list[str]) -> RemoteStream:
        """Start `argv` in the sandbox with stdin and streamed stdout/stderr."""

    @abstractmethod
    def _close_sandbox(self) -> None:
        """Delete the provider's sandbox."""

    # -- SandboxREPL hooks ------------------------------------------------------------------
    def _launch(self) -> tuple[RemoteHandle, socket.socket]:
        if self._box is None:
            try:
                self._box = self._open_sandbox()
            except REPLEnvironmentError:
                raise
            except Exception as exc:
                raise REPLEnvironmentError(
                    f"environment {self.name!r}: the provider could not start a sandbox "
                    f"({type(exc).__name__}: {exc}). Check the provider's credentials and "
                    "quota, or use environment='sandbox'."
                ) from exc
        bridge = Bridge(self._exec(relay_argv(self.python)))
        return bridge.handle, bridge.host_sock

    def _spawn(self) -> WorkerProcess:
        try:
            return WorkerProcess([], self._worker_config(), self._host_call, self._pool,
                                 cwd=None, env={}, max_message=self.max_message,
                                 start_timeout=self.start_timeout, launch=self._launch,
                                 send_timeout=max(1.0, self.cell_timeout))  # fmt: skip
        except WorkerLost as exc:
            raise REPLEnvironmentError(
                f"the {self.name} worker failed to start: {exc.reason}"
            ) from exc

    def _worker_config(self) -> dict[str, Any]:
        config = super()._worker_config()
        config["lockdown"]["read_only"] = []
        config["lockdown"]["read_write"] = [REMOTE_TMP]
        config["lockdown"]["env"] = {"HOME": REMOTE_TMP, "TMPDIR": REMOTE_TMP,
                                     "LANG": "C.UTF-8", "MALLOC_ARENA_MAX": "2"}  # fmt: skip
        return config

    def _memory_limit(self) -> int:
        # One cap for the worker's life: the provider sizes the machine, and restarting a
        # remote worker to raise it costs seconds (the local sandbox raises it in place).
        return int(self.memory_limit) if self.memory_limit is not None else REMOTE_MEMORY

    def load_context(self, context: Any, index: int = 0) -> None:
        payload = _Payload(context, "context")
        with self._lock:
            self._contexts[index] = payload
            if self._worker is None:  # sent when the next worker starts
                return
            self._with_recovery(lambda: self._send_payload("context", index, payload),
                                "loading a context")  # fmt: skip

    def close(self) -> None:
        try:
            super().close()
        finally:
            box, self._box = self._box, None
            if box is not None:
                self._box = box
                try:
                    self._close_sandbox()
                except Exception as exc:  # leave no exception, but say the box may remain
                    log.warning("environment %r: deleting the provider sandbox failed: %s "
                                "(delete it in the provider's console)", self.name, exc)  # fmt: skip
                finally:
                    self._box = None
