"""`sandbox`: the default environment. A persistent, kernel-locked-down worker process.

The host keeps what it needs to rebuild the REPL (references to the contexts, the histories,
the tools) so that when a cell times out, the worker crashes, or `interrupt()` kills it, a
fresh worker starts with all of it reloaded and the model is told its variables are gone.
Contexts are streamed in chunks (never a second full copy of a string context in the host).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import sysconfig
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rlm.environments.base import BaseEnv, Host, ToolSpec
from rlm.environments.proxies import Exposed, ProxyTable
from rlm.environments.sandbox import wire
from rlm.environments.sandbox.caps import answer_text, capped_result
from rlm.environments.sandbox.namespaces import NamespacePlan
from rlm.environments.sandbox.payload import Payload as _Payload
from rlm.environments.sandbox.process import CellTimeout, LockdownFailed, WorkerLost, WorkerProcess
from rlm.environments.toolkit import to_wire
from rlm.errors import ConfigurationError, REPLEnvironmentError, SandboxUnavailableError
from rlm.types import REPLResult

log = logging.getLogger(__name__)

GiB = 1024**3
LOCKDOWN_FEATURES = ("namespaces", "rlimits", "capabilities", "landlock", "seccomp")


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


class SandboxREPL(BaseEnv):
    """environment_kwargs:

    cell_timeout (300 s), memory_limit (bytes; default 2 GiB + 4x the contexts' size),
    cpu_limit (CPU seconds for one worker's life, default 3600), max_output_chars (1,000,000
    per stream per cell), max_file_size (256 MiB), max_open_files (256), max_message (64 MiB),
    allow_degraded (lockdown layers that may be missing: "namespaces", "landlock", "seccomp",
    ...), namespaces ("auto": bwrap if installed, else set up by the sandbox itself;
    "bwrap"; "unshare"; "off", only with allow_degraded=["namespaces"]), bubblewrap (older
    spelling: True is "bwrap", False is "off"), python
    (interpreter), landlock_max_abi (internal, tests: act as a kernel with at most this ABI).
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
        namespaces: str = "auto",
        bubblewrap: bool | None = None,
        python: str | None = None,
        start_timeout: float = 60.0,
        landlock_max_abi: int | None = None,
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
        if bubblewrap is not None:  # the older spelling
            namespaces = "bwrap" if bubblewrap else "off"
        self._namespaces = NamespacePlan(namespaces, "namespaces" in self.allow_degraded)
        self.python = python or sys.executable
        self.start_timeout = start_timeout
        self._proxies = ProxyTable()
        self.landlock_max_abi = landlock_max_abi
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
        self._busy = False  # any request in flight (cell, load, read): interrupt() kills it
        self._stopped_by_host = False  # interrupt() ended a load or read
        self._interrupt_pending = False
        self._start()
        self._finish_init()

    # -- configuration ------------------------------------------------------------------------
    def _split_tools(self, tools: list[ToolSpec]) -> tuple[dict[str, Any], list[str]]:
        """Callables are served by the host; JSON data is copied into the worker; any other
        value (a host object) is offered as a proxy whose allowed methods run on the host."""
        data: dict[str, Any] = {}
        callables: list[str] = []
        for tool in tools:
            if isinstance(tool.value, Exposed) or not tool.is_callable:
                data[tool.name] = self._proxies.wrap(tool.value)
            else:
                callables.append(tool.name)
        return data, callables

    def _memory_limit(self) -> int:
        if self.memory_limit is not None:
            return int(self.memory_limit)
        total = sum(p.size for p in self._contexts.values())
        # str sizes are characters; up to 4 bytes each in the worker.
        return 2 * GiB + 4 * total

    def _argv(self) -> list[str]:
        argv = [self.python, "-I", "-B"]
        if "namespaces" not in self.layers:
            return argv
        assert self._tmpdir is not None
        return self._namespaces.wrap(argv, self._tmpdir, _read_only_paths())

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
                "landlock_max_abi": self.landlock_max_abi,
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
            if self.setup_code and self._cells_run:  # a replacement worker: set it up again
                self._request({"op": "exec", "code": self.setup_code}, ("result",),
                              self.cell_timeout)  # fmt: skip
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
            if self._namespaces.applies_to(exc.reason) and self._namespaces.failed(exc.reason):
                return self._spawn()
            raise REPLEnvironmentError(f"the sandbox worker failed to start: {exc.reason}") from exc
        except OSError as exc:
            raise REPLEnvironmentError(f"cannot start the sandbox worker ({exc})") from exc

    def _on_worker_kill(self) -> None:
        """Extra step when a worker is killed (docker: stop the container)."""

    def _host_call(self, name: str, payload: dict[str, Any]) -> Any:
        if name == "proxy":  # a method of a host object the worker holds a proxy of
            return self._proxies.call(**payload)
        if name == "tool":
            payload = self._proxies.unwrap(payload)
            return self._proxies.wrap(self.host.call(name, payload))  # type: ignore[union-attr]
        return self.host.call(name, payload)  # type: ignore[union-attr]

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
        if self._worker is None:
            return {}
        report = dict(self._worker.lockdown_report)
        if "namespaces" in self.layers:
            self._namespaces.add_to(report)
        return report

    @property
    def worker_pid(self) -> int | None:
        """The worker interpreter's pid as the host sees it (inside bwrap: bwrap's grandchild)."""
        return self._worker.pid if self._worker else None

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
        # Only a cell's clock stops while model calls run; a load or a read is wall time.
        is_cell = msg.get("op") == "exec"
        self._busy = True
        try:
            reply = self._worker.request(msg, expect, timeout, payload=send, count_time=is_cell)
        finally:
            self._busy = False
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
        """Run `action`; if the worker dies under it, start a fresh one and retry once.
        If the host interrupted it (a run limit), stop there: the next cell starts a fresh
        worker with everything reloaded, and the run's limit error is raised by the engine."""
        with self._lock:
            self._stopped_by_host = False
            try:
                return action()
            except WorkerLost as exc:
                if self._stopped_by_host:
                    self._stop_worker()
                    self._note = f"The REPL worker was stopped while {what}: state lost."
                    return None
                self._restart(f"The REPL worker was lost while {what} ({exc.reason}).")
                return action()

    # -- BaseEnv ----------------------------------------------------------------------------------
    def load_context(self, context: Any, index: int = 0) -> None:
        payload = _Payload(to_wire(context), "context")  # a Context crosses as JSON data
        index = self._counted("context", index)
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

    def add_history(self, messages: list[dict[str, Any]], index: int | None = None) -> int:
        payload = _Payload(messages, "history")
        index = self._counted("history", index)
        with self._lock:
            self._histories[index] = payload
            self._with_recovery(lambda: self._send_payload("history", index, payload),
                                "loading a history")  # fmt: skip
        return index

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
                    f"TimeoutError: cell timed out after {self.cell_timeout:g}s of execution (time waiting "
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
                result = self._result(reply, note)
                result.rlm_calls = self._host_calls()
                return result
            except (TypeError, ValueError, OverflowError, AttributeError) as exc:
                # A result frame model code forged badly: the worker is not trustworthy now.
                log.warning("malformed result from the sandbox worker (%s); replacing it", exc)
                if self._worker is not None:
                    self._worker.kill("malformed result")
                return self._lost(f"The REPL worker sent a malformed result ({exc}).", note)

    def _result(self, reply: dict[str, Any], note: str | None) -> REPLResult:
        self._partial = answer_text(reply.get("partial_answer"))
        return capped_result(reply, self.max_output_chars, note)

    def _keep_peeked(self) -> None:
        worker = self._worker
        if worker is not None and worker.peeked is not None:
            self._partial = answer_text(worker.peeked)

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
            self._stopped_by_host = False
            try:
                reply = self._request(
                    {"op": "resolve", "name": name}, ("resolved",), min(30.0, self.cell_timeout)
                )
            except WorkerLost:
                if self._stopped_by_host:  # a run limit: no fresh worker needed now
                    self._stop_worker()
                    self._note = "The REPL worker was stopped while reading a variable."
                    return None
                self._restart("The REPL worker was lost while reading a variable.")
                return None
        return answer_text(reply.get("value"))

    @property
    def locals(self) -> dict[str, Any]:
        """A snapshot of the REPL's variables for host code (the reference's `.locals`): JSON
        values as themselves, anything else as its short repr, plus the contexts and
        histories. A copy: writing to it changes nothing in the worker."""
        with self._lock:
            try:
                reply = self._request(
                    {"op": "snapshot"}, ("snapshot",), min(30.0, self.cell_timeout)
                )
            except WorkerLost:
                self._restart("The REPL worker was lost while reading its variables.")
                reply = {}
        values = reply.get("values")
        out: dict[str, Any] = dict(values) if isinstance(values, dict) else {}
        for kind, payloads in (("context", self._contexts), ("history", self._histories)):
            for index, payload in sorted(payloads.items()):
                out[f"{kind}_{index}"] = payload.load()
            if 0 in payloads:
                out[kind] = out[f"{kind}_0"]
        if self.compaction:
            out["history"] = list(self._compaction)
        return out

    def set_variables(self, values: dict[str, Any]) -> None:
        _Payload(values, "REPL variables")  # validates JSON-ability before anything is sent
        with self._lock:
            reply = self._with_recovery(
                lambda: self._request(
                    {"op": "setvars", "values": values}, ("ack",), self.cell_timeout
                ),
                "setting variables",
            )
        if reply.get("error"):
            raise REPLEnvironmentError(str(reply["error"]))

    def json_variables(self) -> dict[str, Any]:
        with self._lock:
            reply = self._with_recovery(
                lambda: self._request({"op": "getvars"}, ("vars",), self.cell_timeout),
                "reading variables",
            )
        values, skipped = reply.get("values"), reply.get("skipped")
        if skipped:
            log.info("REPL variables that are not JSON, left out: %s", skipped)
        return dict(values) if isinstance(values, dict) else {}

    @property
    def partial_answer(self) -> str | None:
        """`answer["content"]` as of the last finished cell (kept by the host, so it is still
        there after a limit killed the worker)."""
        return self._partial

    def interrupt(self) -> None:
        """Kill the running cell, or a load or read in flight (with its worker), from any
        thread; the next call restarts. Nothing in flight: the next cell does not run."""
        worker = self._worker
        if not self._busy:
            self._interrupt_pending = True
            return
        if worker is not None:
            if self._running:
                self._interrupted = True
                worker.peek(0.3)  # keep what the model wrote into `answer` so far
            else:
                self._stopped_by_host = True
            worker.kill("interrupted by the host")

    def clear_interrupt(self) -> None:
        self._interrupt_pending = False

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
