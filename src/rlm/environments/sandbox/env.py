"""`sandbox`: the default environment. A persistent, kernel-locked-down worker process.

The host keeps what it needs to rebuild the REPL (references to the contexts, the histories,
the tools) so that when a cell times out, the worker crashes, or `interrupt()` kills it, a
fresh worker starts with all of it reloaded and the model is told its variables are gone.
Contexts are streamed in chunks (never a second full copy of a string context in the host).
"""

from __future__ import annotations

import ctypes
import json
import logging
import math
import os
import shutil
import sys
import sysconfig
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rlm.environments.base import BaseEnv, Host, ToolSpec
from rlm.environments.sandbox import wire
from rlm.environments.sandbox.process import CellTimeout, LockdownFailed, WorkerLost, WorkerProcess
from rlm.environments.toolkit import to_wire
from rlm.errors import ConfigurationError, REPLEnvironmentError, SandboxUnavailableError
from rlm.types import REPLResult

log = logging.getLogger(__name__)

GiB = 1024**3
CHUNK_CHARS = 4 * 1024 * 1024  # a chunk of a str context: at most 16 MiB of UTF-8
LOCKDOWN_FEATURES = ("rlimits", "capabilities", "landlock", "seccomp")


def _read_only_paths() -> list[str]:
    """What the interpreter needs to import the stdlib and its C extensions: its own
    installation and the system's shared libraries. Nothing else (no /etc, /home, /tmp)."""
    paths = {sys.base_prefix, sys.prefix, sys.exec_prefix, sys.base_exec_prefix}
    paths.add(os.path.dirname(os.path.realpath(sys.executable)))
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        with_path = sysconfig.get_paths().get(key)
        if with_path:
            paths.add(with_path)
    paths.update({"/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/local/lib", "/etc/ld.so.cache"})
    return sorted(p for p in paths if p and os.path.exists(p))


_ASCII_HEADER = sys.getsizeof("") - 1  # sizeof(PyASCIIObject): where compact ASCII data starts


def _ascii_buffer(text: str) -> memoryview | None:
    """A read-only view of a compact ASCII str's bytes, without copying (CPython layout);
    None when `text` is not laid out that way. The caller keeps `text` alive."""
    if (
        sys.implementation.name != "cpython"
        or type(text) is not str
        or len(text) < 1 << 20  # small strings: encoding is cheap, skip the trick
        or not text.isascii()  # O(1) in CPython: a flag on the object
        or sys.getsizeof(text) != _ASCII_HEADER + len(text) + 1
    ):
        return None
    raw = (ctypes.c_char * len(text)).from_address(id(text) + _ASCII_HEADER)
    return memoryview(raw).cast("B").toreadonly()


class _Payload:
    """A context or history prepared for streaming: a str is sent in slices of the original
    (the host never holds a second full copy); other values are JSON-encoded once."""

    __slots__ = ("kind", "size", "value")

    def __init__(self, value: Any, what: str):
        if isinstance(value, str):
            kind = "ascii" if _ascii_buffer(value) is not None else "str"
            self.kind, self.value, self.size = kind, value, len(value)
            return
        try:
            data = json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(
                f"{what} of type {type(value).__name__} cannot be sent to the sandbox: it must "
                f"be a str or JSON data ({exc}). Convert it, or use environment='local' for "
                "trusted code."
            ) from exc
        self.kind, self.value, self.size = "json", data, len(data)

    def chunk_count(self) -> int:
        step = CHUNK_CHARS if self.kind == "str" else wire.CHUNK_BYTES
        return max(1, -(-self.size // step))

    def header(self) -> dict[str, Any]:
        return {"kind": self.kind, "chunks": self.chunk_count(), "nbytes": self.size}

    def send(self, channel: wire.Channel) -> None:
        if self.kind == "ascii":
            # An ASCII str's internal buffer already is its UTF-8 encoding: send it as is.
            view = _ascii_buffer(self.value)
            assert view is not None
            for start in range(0, max(len(view), 1), wire.CHUNK_BYTES):
                channel.send_bytes(view[start : start + wire.CHUNK_BYTES])
            return
        if self.kind == "str":
            text: str = self.value
            for start in range(0, max(len(text), 1), CHUNK_CHARS):
                channel.send_bytes(
                    text[start : start + CHUNK_CHARS].encode("utf-8", "surrogatepass")
                )
            return
        view = memoryview(self.value)
        for start in range(0, max(len(view), 1), wire.CHUNK_BYTES):
            channel.send_bytes(view[start : start + wire.CHUNK_BYTES])


class SandboxREPL(BaseEnv):
    """environment_kwargs:

    cell_timeout (300 s), memory_limit (bytes; default 2 GiB + 4x the contexts' size),
    cpu_limit (CPU seconds for one worker's life, default 3600), max_output_chars (1,000,000
    per stream per cell), max_file_size (256 MiB), max_open_files (256), max_message (64 MiB),
    allow_degraded (lockdown layers that may be missing: "landlock", "seccomp", ...),
    bubblewrap (True: wrap the worker in `bwrap` namespaces as well), python (interpreter).
    """

    name = "sandbox"
    #: lockdown layers this environment asks of the worker
    layers: tuple[str, ...] = LOCKDOWN_FEATURES
    executor: str | None = None
    #: socketpair channel (local process) or stdin/stdout (a process behind `docker run -i`)
    use_socketpair: bool = True
    #: the worker's memory cap can be raised from outside (prlimit); docker cannot
    memory_in_place: bool = True

    def __init__(
        self,
        host: Host | None = None,
        tools: list[ToolSpec] | None = None,
        *,
        compaction: bool = False,
        cell_timeout: float = 300.0,
        memory_limit: int | None = None,
        cpu_limit: int = 3600,
        max_output_chars: int = 1_000_000,
        max_file_size: int = 256 * 1024 * 1024,
        max_open_files: int = 256,
        max_message: int = wire.DEFAULT_MAX_MESSAGE,
        allow_degraded: list[str] | tuple[str, ...] | str | None = None,
        bubblewrap: bool = False,
        python: str | None = None,
        start_timeout: float = 60.0,
        **kwargs: Any,
    ):
        super().__init__(host, tools, **kwargs)
        if isinstance(allow_degraded, str):
            allow_degraded = [allow_degraded]
        unknown = set(allow_degraded or ()) - set(LOCKDOWN_FEATURES)
        if unknown:
            raise ConfigurationError(
                f"allow_degraded: unknown lockdown layer(s) {sorted(unknown)}; "
                f"choose from {list(LOCKDOWN_FEATURES)}"
            )
        if sys.platform == "win32":
            raise SandboxUnavailableError(
                f"environment {self.name!r} runs its worker with POSIX process groups and "
                "rlimits: not available on Windows. Use WSL2, or environment='local' for "
                "trusted code."
            )
        if (
            not sys.platform.startswith("linux")
            and self.layers != ("rlimits",)
            and not {"landlock", "seccomp", "capabilities"} <= set(allow_degraded or ())
        ):
            raise SandboxUnavailableError(
                f"the sandbox's kernel lockdown (Landlock, seccomp) needs Linux, not "
                f"{sys.platform}. Use environment='docker', or environment='local' for "
                "trusted code (on macOS, allow_degraded=['landlock', 'seccomp', "
                "'capabilities'] runs it with rlimits and a scrubbed environment only)."
            )
        if not cell_timeout or cell_timeout <= 0:
            raise ConfigurationError("cell_timeout must be a positive number of seconds")
        self.compaction = compaction
        self.cell_timeout = float(cell_timeout)
        self.memory_limit = memory_limit
        self.cpu_limit = int(cpu_limit)
        self.max_output_chars = int(max_output_chars)
        self.max_file_size = int(max_file_size)
        self.max_open_files = int(max_open_files)
        self.max_message = int(max_message)
        self.allow_degraded = list(allow_degraded or ())
        self.bubblewrap = bubblewrap
        self.python = python or sys.executable
        self.start_timeout = start_timeout
        self._tool_data, self._tool_callables = self._split_tools(self.tools)
        self._contexts: dict[int, _Payload] = {}
        self._histories: dict[int, _Payload] = {}
        self._compaction: list[Any] = []
        self._lock = threading.RLock()
        self._pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix="rlm-broker")
        self._worker: WorkerProcess | None = None
        self._tmpdir: str | None = None
        self._closed = False
        self._note: str | None = None  # told to the model with the next cell's output
        self._interrupted = False
        self._seq = 0
        self._partial: str | None = None
        self._cells_run = 0
        self._running = False
        self._interrupt_pending = False
        self._start()

    # -- configuration ------------------------------------------------------------------------
    @staticmethod
    def _split_tools(tools: list[ToolSpec]) -> tuple[dict[str, Any], list[str]]:
        data: dict[str, Any] = {}
        callables: list[str] = []
        for tool in tools:
            if tool.is_callable:
                callables.append(tool.name)
                continue
            try:
                data[tool.name] = json.loads(json.dumps(tool.value))
            except (TypeError, ValueError) as exc:
                raise ConfigurationError(
                    f"custom tool {tool.name!r}: a {type(tool.value).__name__} value cannot "
                    f"cross into the sandbox (only callables and JSON data can: {exc}). "
                    "Pass JSON data, or use environment='local' for trusted host objects."
                ) from exc
        return data, callables

    def _memory_limit(self) -> int:
        if self.memory_limit is not None:
            return int(self.memory_limit)
        total = sum(p.size for p in self._contexts.values())
        # str sizes are characters; up to 4 bytes each in the worker.
        return 2 * GiB + 4 * total

    def _argv(self) -> list[str]:
        argv = [self.python, "-I", "-B"]
        if not self.bubblewrap:
            return argv
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            raise SandboxUnavailableError(
                "bubblewrap=True but `bwrap` is not installed (Debian: apt-get install "
                "bubblewrap). Drop bubblewrap=True to use the kernel lockdown alone."
            )
        assert self._tmpdir is not None
        wrap = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--proc", "/proc",
                "--dev", "/dev", "--bind", self._tmpdir, self._tmpdir, "--chdir", self._tmpdir]  # fmt: skip
        for path in _read_only_paths():
            wrap += ["--ro-bind", path, path]
        return [*wrap, *argv]

    def _worker_config(self) -> dict[str, Any]:
        assert self._tmpdir is not None
        return {
            "tool_data": self._tool_data,
            "tool_callables": self._tool_callables,
            "compaction": self.compaction,
            "capture_limit": self.max_output_chars,
            "executor": self.executor,
            "lockdown": {
                "layers": list(self.layers),
                "allow_degraded": self.allow_degraded,
                "memory_limit": self._memory_limit(),
                "cpu_limit": self.cpu_limit,
                "max_file_size": self.max_file_size,
                "max_open_files": self.max_open_files,
                "read_only": _read_only_paths(),
                "read_write": [self._tmpdir],
                "env": self._worker_env(),
            },
        }

    def _worker_env(self) -> dict[str, str]:
        # Nothing from the host's environment: no API keys, no HOME, no PATH.
        assert self._tmpdir is not None
        return {
            "HOME": self._tmpdir,
            "TMPDIR": self._tmpdir,
            "LANG": "C.UTF-8",
            "PYTHONIOENCODING": "utf-8",
            "MALLOC_ARENA_MAX": "2",  # threads' malloc arenas would eat the address space
            "IPYTHONDIR": os.path.join(self._tmpdir, ".ipython"),
        }

    # -- worker lifecycle ---------------------------------------------------------------------
    def _start(self) -> None:
        if self._closed:
            raise REPLEnvironmentError(f"this {type(self).__name__} is closed")
        self._tmpdir = tempfile.mkdtemp(prefix="rlm-sandbox-")
        try:
            self._worker = self._spawn()
        except BaseException:
            self._remove_tmpdir()
            raise
        # Replay everything a fresh worker needs; contexts go last (biggest).
        try:
            for index, payload in self._histories.items():
                self._send_payload("history", index, payload)
            for entry in self._compaction:
                self._request({"op": "compaction", "value": entry}, ("ack",), self.cell_timeout)
            for index, payload in self._contexts.items():
                self._send_payload("context", index, payload)
        except WorkerLost as exc:
            tail = self._worker.stderr_tail() if self._worker is not None else ""
            self._stop_worker()
            raise REPLEnvironmentError(
                f"the sandbox worker died while loading its contexts ({exc.reason}). "
                "If a context is very large, raise environment_kwargs['memory_limit']. "
                f"{tail}"
            ) from exc

    def _spawn(self) -> WorkerProcess:
        try:
            return WorkerProcess(
                self._argv(),
                self._worker_config(),
                self._host_call,
                self._pool,
                cwd=self._tmpdir,
                env=self._worker_env(),
                max_message=self.max_message,
                start_timeout=self.start_timeout,
                use_socketpair=self.use_socketpair,
                on_kill=self._on_worker_kill,
                send_timeout=max(1.0, self.cell_timeout),
            )
        except LockdownFailed as exc:
            raise SandboxUnavailableError(
                f"The sandbox cannot apply {exc.feature} on this machine ({exc.reason}). "
                f"To run with this layer missing, opt in explicitly: "
                f'environment_kwargs={{"allow_degraded": ["{exc.feature}"]}}; '
                "or use environment='docker'."
            ) from exc
        except WorkerLost as exc:
            raise REPLEnvironmentError(f"the sandbox worker failed to start: {exc.reason}") from exc
        except OSError as exc:
            raise REPLEnvironmentError(f"cannot start the sandbox worker ({exc})") from exc

    def _on_worker_kill(self) -> None:
        """Extra step when a worker is killed (docker: stop the container)."""

    def _host_call(self, name: str, payload: dict[str, Any]) -> Any:
        if self.host is None:
            raise RuntimeError(f"{name} is not available: this REPL has no host")
        return self.host.call(name, payload)

    def _restart(self, note: str) -> None:
        self._stop_worker()
        self._note = note
        self._start()

    def _stop_worker(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.close()
        self._remove_tmpdir()

    def _remove_tmpdir(self) -> None:
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    @property
    def lockdown_report(self) -> dict[str, Any]:
        return dict(self._worker.lockdown_report) if self._worker else {}

    @property
    def worker_pid(self) -> int | None:
        return self._worker.proc.pid if self._worker else None

    # -- requests -------------------------------------------------------------------------------
    def _request(self, msg: dict[str, Any], expect: tuple[str, ...], timeout: float | None = None,
                 payload: Any = None) -> dict[str, Any]:  # fmt: skip
        if self._closed:
            raise REPLEnvironmentError(f"this {type(self).__name__} is closed")
        if self._worker is None:
            self._start()
        assert self._worker is not None
        self._seq += 1
        msg["id"] = self._seq
        send = None if payload is None else (lambda: payload.send(self._worker.channel))
        reply = self._worker.request(msg, expect, timeout, payload=send)
        if reply.get("id") != self._seq:
            self._worker.kill("reply id mismatch")
            raise WorkerLost("the worker answered out of turn")
        return reply

    def _send_payload(self, op: str, index: int, payload: _Payload) -> None:
        msg = {"op": op, "index": index}
        if op == "context":
            msg.update(payload.header())
            self._request(msg, ("ack",), self.cell_timeout, payload=payload)
        else:
            msg["value"] = json.loads(payload.value) if payload.kind == "json" else payload.value
            self._request(msg, ("ack",), self.cell_timeout)

    def _with_recovery(self, action: Any, what: str) -> Any:
        """Run `action`; if the worker dies under it, start a fresh one and retry once."""
        with self._lock:
            try:
                return action()
            except WorkerLost as exc:
                self._restart(f"The REPL worker was lost while {what} ({exc.reason}).")
                return action()

    # -- BaseEnv ----------------------------------------------------------------------------------
    def load_context(self, context: Any, index: int = 0) -> None:
        payload = _Payload(to_wire(context), "context")  # a Context crosses as JSON data
        with self._lock:
            self._contexts[index] = payload
            worker = self._worker
            grown = worker is not None and self.memory_in_place
            if worker is not None and not (grown and worker.set_memory_limit(self._memory_limit())):
                # A fresh worker with a bigger cap; only news to the model if cells have run.
                note = "The REPL worker was restarted (state lost) to make room for a new context."
                self._restart(note if self._cells_run else "")
                self._note = self._note or None
                return
            self._with_recovery(lambda: self._send_payload("context", index, payload),
                                "loading a context")  # fmt: skip

    def add_history(self, messages: list[dict[str, Any]], index: int) -> None:
        payload = _Payload(messages, "history")
        with self._lock:
            self._histories[index] = payload
            self._with_recovery(lambda: self._send_payload("history", index, payload),
                                "loading a history")  # fmt: skip

    def append_compaction_history(self, entry: Any) -> None:
        _Payload(entry, "compaction history entry")  # validates JSON-ability
        with self._lock:
            self._compaction.append(entry)
            self._with_recovery(
                lambda: self._request(
                    {"op": "compaction", "value": entry}, ("ack",), self.cell_timeout
                ),
                "appending history",
            )

    def execute_code(self, code: str) -> REPLResult:
        with self._lock:
            if self._closed:
                raise REPLEnvironmentError(f"this {type(self).__name__} is closed")
            note, self._note = self._note, None
            self._interrupted = False
            if self._interrupt_pending:
                self._interrupt_pending = False
                return REPLResult(stderr="Interrupted by the host before the cell ran.\n")
            self._cells_run += 1
            try:
                if self._worker is None:
                    self._start()
                self._running = True
                try:
                    reply = self._request(
                        {"op": "exec", "code": code}, ("result",), self.cell_timeout
                    )
                finally:
                    self._running = False
            except CellTimeout:
                self._keep_peeked()
                return self._lost(
                    f"Cell timed out after {self.cell_timeout:g}s of execution (time waiting "
                    "on llm_query/rlm_query does not count) and was killed.",
                    note,
                )
            except WorkerLost as exc:
                self._keep_peeked()
                if self._interrupted:
                    return self._lost("Cell interrupted by the host and killed.", note)
                tail = ""
                if self._worker is not None and self._worker.stderr_tail():
                    tail = f"\nWorker stderr (tail):\n{self._worker.stderr_tail()}"
                return self._lost(f"The REPL worker process died ({exc.reason}).{tail}", note)
            try:
                return self._result(reply, note)
            except (TypeError, ValueError, OverflowError, AttributeError) as exc:
                # A result frame model code forged badly: the worker is not trustworthy now.
                log.warning("malformed result from the sandbox worker (%s); replacing it", exc)
                if self._worker is not None:
                    self._worker.kill("malformed result")
                return self._lost(f"The REPL worker sent a malformed result ({exc}).", note)

    def _result(self, reply: dict[str, Any], note: str | None) -> REPLResult:
        def text(key: str) -> str:
            value = reply.get(key)
            return value if isinstance(value, str) else ""

        def number(key: str) -> float:
            value = reply.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return 0.0
            value = float(value)
            return value if math.isfinite(value) and value >= 0 else 0.0

        local_names = reply.get("locals")
        locals_ = (
            {str(k): str(v) for k, v in local_names.items()}
            if isinstance(local_names, dict)
            else {}
        )
        final = reply.get("final_answer")
        partial = reply.get("partial_answer")
        self._partial = partial if isinstance(partial, str) else None
        stderr = text("stderr")
        if note:
            stderr = f"{note}\n{stderr}"
        return REPLResult(
            stdout=text("stdout"),
            stderr=stderr,
            locals=locals_,
            execution_time=number("execution_time"),
            final_answer=final if isinstance(final, str) else None,
            truncated_chars=int(number("truncated_chars")),
        )

    def _keep_peeked(self) -> None:
        worker = self._worker
        if worker is not None and worker.peeked is not None:
            self._partial = worker.peeked

    def _lost(self, what: str, note: str | None) -> REPLResult:
        """The worker is gone: say so, and have a fresh one with contexts reloaded."""
        if self._closed:  # close() from another thread killed it: no fresh worker
            return REPLResult(stderr=f"{what}\nThe environment was closed.", state_lost=True)
        try:
            self._restart("")
            self._note = None
            again = "A fresh REPL was started: context, history and tools are loaded again."
        except Exception as exc:  # the sandbox itself is failing now: that is the env's error
            self._stop_worker()
            raise REPLEnvironmentError(
                f"{what} Restarting the sandbox worker failed: {exc}"
            ) from exc
        stderr = (
            f"{what}\nREPL state lost: every variable you defined is gone. {again} "
            "Re-run what you need, and keep each cell short."
        )
        if note:
            stderr = f"{note}\n{stderr}"
        return REPLResult(stdout="", stderr=stderr, state_lost=True)

    def resolve_variable(self, name: str) -> str | None:
        if not isinstance(name, str) or not name.isidentifier():
            return None
        with self._lock:
            try:
                reply = self._request(
                    {"op": "resolve", "name": name}, ("resolved",), min(30.0, self.cell_timeout)
                )
            except WorkerLost:
                self._restart("The REPL worker was lost while reading a variable.")
                return None
        value = reply.get("value")
        return value if isinstance(value, str) else None

    @property
    def partial_answer(self) -> str | None:
        """`answer["content"]` as of the last finished cell (kept by the host, so it is still
        there after a limit killed the worker)."""
        return self._partial

    def interrupt(self) -> None:
        """Kill the running cell (and its worker) from any thread; the next call restarts."""
        worker = self._worker
        if not self._running:
            # No cell to stop (yet): stop the next one before it starts.
            self._interrupt_pending = True
            return
        if worker is not None:
            self._interrupted = True
            worker.peek(0.3)  # keep what the model wrote into `answer` so far
            worker.kill("interrupted by the host")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        worker = self._worker
        if worker is not None:
            worker.kill("closed")  # unblocks a cell running in another thread
        with self._lock:
            self._stop_worker()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            try:
                self.close()
            except Exception:  # interpreter shutdown: nothing useful left to do
                pass
