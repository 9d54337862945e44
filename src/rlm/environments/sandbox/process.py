"""Host side of one worker process: spawn it, speak the wire protocol, serve its callbacks.

`WorkerProcess` knows nothing about REPL state; `SandboxREPL` (env.py) owns that and starts a
fresh `WorkerProcess` whenever one dies. Every frame from the worker is untrusted: it is
validated here, and anything malformed kills the worker (`WorkerLost`), never the host.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rlm.environments.base import WORKER_CALLS
from rlm.environments.sandbox import wire
from rlm.environments.sandbox.callcheck import BadRequest, check_request
from rlm.environments.sandbox.namespaces import innermost_pid, wait_gone

log = logging.getLogger(__name__)

_HERE = Path(__file__).resolve().parent
_SHIPPED = (
    ("_rlm_wire", _HERE / "wire.py"),
    ("_rlm_lockdown", _HERE / "lockdown.py"),
    ("_rlm_toolkit", _HERE.parent / "toolkit.py"),
    ("_rlm_runtime", _HERE.parent / "runtime.py"),
    ("_rlm_proxy_runtime", _HERE.parent / "proxy_runtime.py"),
    ("_rlm_worker", _HERE / "worker.py"),
)

# Runs under `python -I -B -c`: reads the first frame (module sources + config) from the
# channel, loads the modules, hands over to worker.main. Kept tiny and stdlib-only.
BOOTSTRAP = r"""
import sys, os, json, struct, types
r, w = int(sys.argv[1]), int(sys.argv[2])
def _exact(n):
    b = bytearray()
    while len(b) < n:
        c = os.read(r, n - len(b))
        if not c: os._exit(2)
        b += c
    return bytes(b)
n, k = struct.unpack(">IB", _exact(5))
boot = json.loads(_exact(n))
for name, src in boot["modules"]:
    m = types.ModuleType(name); m.__file__ = "<" + name + ">"
    sys.modules[name] = m
    exec(compile(src, m.__file__, "exec"), m.__dict__)
del boot["modules"]
sys.modules["_rlm_worker"].main(r, w, boot)
"""


def shipped_sources() -> list[tuple[str, str]]:
    return [(name, path.read_text(encoding="utf-8")) for name, path in _SHIPPED]


class WorkerLost(Exception):
    """The worker died, was killed, or broke the protocol. `reason` says which."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class CellTimeout(WorkerLost):
    pass


class LockdownFailed(Exception):
    def __init__(self, feature: str, reason: str):
        self.feature = feature
        self.reason = reason
        super().__init__(f"{feature}: {reason}")


class WorkerProcess:
    """One running worker. Thread-safe `request()` for the env's single caller thread;
    callbacks from the worker are served concurrently on `pool`."""

    def __init__(
        self,
        argv: Sequence[str],
        config: dict[str, Any],
        host_call: Callable[[str, dict[str, Any]], Any],
        pool: ThreadPoolExecutor,
        *,
        cwd: str | None,
        env: dict[str, str],
        max_message: int,
        start_timeout: float = 60.0,
        use_socketpair: bool = True,
        on_kill: Callable[[], None] | None = None,
        send_timeout: float = 300.0,
        launch: Callable[[], tuple[Any, socket.socket]] | None = None,
    ):
        self.host_call = host_call
        self.pool = pool
        self.max_message = max_message
        self._cv = threading.Condition()
        self._reply: dict[str, Any] | None = None
        self._expect: Any = None
        self._dead: str | None = None
        self._outstanding = 0
        self._pause_start: float | None = None
        self._paused = 0.0
        self._stderr_tail = b""
        self.lockdown_report: dict[str, Any] = {}
        self.pid: int = 0  # set once the worker is ready
        self._killed_reason: str | None = None
        self.peeked: str | None = None  # the worker's partial answer, read before a kill
        self._peek_event = threading.Event()
        self._on_kill = on_kill  # e.g. `docker kill`: the CLI's death does not stop a container

        if launch is not None:
            # A worker somewhere else (a provider's sandbox): `launch` starts it and returns a
            # process handle (poll/wait/kill, no local pid) and our end of a local socket that
            # carries the same frames (see rlm.environments.remote).
            self.proc, self._sock = launch()
            fd = self._sock.fileno()
            self.channel = wire.Channel(fd, fd, max_message)
        elif use_socketpair:
            host_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            for sock in (host_sock, child_sock):  # big buffers: fewer wakeups for contexts
                for opt in (socket.SO_SNDBUF, socket.SO_RCVBUF):
                    with contextlib.suppress(OSError):
                        sock.setsockopt(socket.SOL_SOCKET, opt, 4 * 1024 * 1024)
            # A worker that stops reading (model code holding the GIL in C from a leftover
            # thread) must not block the host forever in a send: time out, then kill it.
            host_sock.setsockopt(
                socket.SOL_SOCKET,
                socket.SO_SNDTIMEO,
                struct.pack("ll", int(send_timeout), int(send_timeout % 1 * 1e6)),
            )
            self._sock = host_sock
            child_fd = child_sock.fileno()
            cmd = [*argv, "-c", BOOTSTRAP, str(child_fd), str(child_fd)]
            try:
                self.proc = subprocess.Popen(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    pass_fds=(child_fd,),
                    cwd=cwd,
                    env=env,
                    start_new_session=True,
                )
            finally:
                child_sock.close()
            fd = host_sock.fileno()
            self.channel = wire.Channel(fd, fd, max_message, guarded=True)
        else:
            # stdin/stdout are the channel (docker): the worker moves them off fds 0/1 first.
            self._sock = None
            cmd = [*argv, "-c", BOOTSTRAP, "0", "1"]
            self.proc = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=cwd,
                env=env,
                start_new_session=True,
            )
            assert self.proc.stdin is not None and self.proc.stdout is not None
            self.channel = wire.Channel(
                self.proc.stdout.fileno(), self.proc.stdin.fileno(), max_message, guarded=True
            )
        try:
            self._handshake(config, max_message, start_timeout)
        except BaseException:
            self.close()  # no half-started worker, socket or zombie left behind
            raise

    def _handshake(self, config: dict[str, Any], max_message: int, start_timeout: float) -> None:
        drain = threading.Thread(target=self._drain_stderr, name="rlm-worker-stderr", daemon=True)
        drain.start()
        try:
            self.channel.send_json({"modules": shipped_sources(), "config": config,
                                    "max_message": max_message})  # fmt: skip
        except wire.WireError as exc:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=2)  # its last words (e.g. the namespace launcher's)
            drain.join(timeout=1)
            self.kill("worker exited during start")
            raise WorkerLost(f"worker exited during start: {exc}; {self.stderr_tail()}") from exc
        self._reader = threading.Thread(
            target=self._read_loop, name="rlm-worker-reader", daemon=True
        )
        self._reader.start()
        try:
            ready = self._wait_for(("ready", "unavailable"), start_timeout, count_time=False)
        except WorkerLost as exc:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=2)  # let the stderr drain catch the last words
            drain.join(timeout=1)
            raise WorkerLost(f"{exc.reason}; stderr: {self.stderr_tail() or '(empty)'}") from exc
        if ready.get("op") == "unavailable":
            self.kill("lockdown unavailable")
            raise LockdownFailed(str(ready.get("feature")), str(ready.get("reason")))
        report = ready.get("lockdown")
        self.lockdown_report = report if isinstance(report, dict) else {}
        # Under bwrap the interpreter is bwrap's grandchild: rlimits and kills aim at it. A
        # remote worker (a provider's sandbox) has no pid on this machine.
        if isinstance(self.proc, subprocess.Popen):
            self.pid = innermost_pid(self.proc.pid)

    # -- reading ----------------------------------------------------------------------------
    def _drain_stderr(self) -> None:
        stream = self.proc.stderr
        if stream is None:
            return
        with contextlib.suppress(OSError, ValueError):
            while chunk := stream.read1(65536):
                self._stderr_tail = (self._stderr_tail + chunk)[-4096:]

    def stderr_tail(self) -> str:
        text = self._stderr_tail.decode("utf-8", "replace").strip()
        return text[-1500:]

    def _read_loop(self) -> None:
        reason = "worker exited"
        try:
            while True:
                kind, msg = self.channel.recv()
                if kind != wire.KIND_JSON or not isinstance(msg, dict):
                    raise wire.WireError("unexpected frame from worker")
                op = msg.get("op")
                if op == "call":
                    self._start_call(msg)
                elif op == "peeked":
                    value = msg.get("value")
                    self.peeked = value if isinstance(value, str) else None
                    self._peek_event.set()
                else:
                    with self._cv:
                        if self._expect is not None and op in self._expect:
                            if self._reply is None:
                                self._reply = msg
                                self._cv.notify_all()
                        else:
                            log.debug("dropping unexpected %r frame from worker", op)
        except wire.ChannelClosed:
            pass
        except Exception as exc:  # anything the worker sent that we cannot take
            reason = f"worker broke the protocol ({type(exc).__name__}: {exc})"
            log.warning("sandbox worker %s: %s; killing it", self.proc.pid, reason)
            self.kill(reason)
        with self._cv:
            if self._dead is None:
                self._dead = self._killed_reason or reason
            self._cv.notify_all()

    def _start_call(self, msg: dict[str, Any]) -> None:
        rid, name, payload = msg.get("id"), msg.get("name"), msg.get("payload")
        if not isinstance(rid, int):
            raise wire.WireError("call without an integer id")
        if name not in WORKER_CALLS or not isinstance(payload, dict):
            self._send_reply(rid, False, f"unknown host call {name!r}")
            return
        try:
            check_request(name, payload)
        except BadRequest as exc:
            self._send_reply(rid, False, str(exc))
            return
        with self._cv:
            if self._outstanding == 0:
                self._pause_start = time.monotonic()
            self._outstanding += 1
        try:
            self.pool.submit(self._serve_call, rid, name, payload)
        except RuntimeError:  # pool shut down: the env is closing
            self._call_done()

    def _serve_call(self, rid: int, name: str, payload: dict[str, Any]) -> None:
        try:
            try:
                value = self.host_call(name, payload)
            except Exception as exc:  # goes back to model code as an error, like local
                self._send_reply(rid, False, f"{type(exc).__name__}: {exc}")
                return
            self._send_reply(rid, True, value)
        finally:
            self._call_done()

    def _send_reply(self, rid: int, ok: bool, value: Any) -> None:
        msg = {"op": "reply", "id": rid, "ok": ok}
        msg["value" if ok else "error"] = value
        try:
            self.channel.send_json(msg)
        except (TypeError, ValueError) as exc:
            self._send_reply(rid, False, f"host call returned a non-JSON value: {exc}")
        except wire.WireError as exc:
            if not isinstance(exc, wire.ChannelClosed) and ok:
                self._send_reply(rid, False, f"reply too large: {exc}")

    def _call_done(self) -> None:
        with self._cv:
            self._outstanding -= 1
            if self._outstanding == 0 and self._pause_start is not None:
                self._paused += time.monotonic() - self._pause_start
                self._pause_start = None
            self._cv.notify_all()

    # -- requests ---------------------------------------------------------------------------
    def request(
        self,
        msg: dict[str, Any],
        expect: tuple[str, ...],
        timeout: float | None,
        *,
        payload: Callable[[], None] | None = None,
        count_time: bool = True,
    ) -> dict[str, Any]:
        """Send `msg` (then `payload()` frames) and wait for a frame whose op is in `expect`.

        With `timeout` and `count_time` (cells), only time when no host callback is in flight
        counts against it; without `count_time` (loads, reads) it is wall-clock time."""
        with self._cv:
            if self._dead is not None:
                raise WorkerLost(self._dead)
            self._reply = None
            self._expect = expect
        try:
            self.channel.send_json(msg)
            if payload is not None:
                payload()
        except wire.WireError as exc:
            self.kill(f"channel failed: {exc}")
            raise WorkerLost(self._dead or str(exc)) from exc
        return self._wait_for(expect, timeout, count_time=count_time)

    def _wait_for(self, expect: tuple[str, ...], timeout: float | None, *, count_time: bool):
        with self._cv:
            self._expect = expect
            start = time.monotonic()
            self._paused = 0.0
            if self._outstanding and self._pause_start is not None:
                self._pause_start = start
            while self._reply is None and self._dead is None:
                if timeout is None:
                    self._cv.wait()
                    continue
                now = time.monotonic()
                paused = self._paused
                if count_time and self._pause_start is not None:
                    paused += now - self._pause_start
                used = (now - start) - (paused if count_time else 0.0)
                if count_time and self._outstanding:
                    self._cv.wait(1.0)  # waiting on the model: the clock is stopped
                    continue
                if used >= timeout:
                    break
                self._cv.wait(timeout - used)
            reply, self._reply, self._expect = self._reply, None, None
            dead = self._dead
        if reply is not None:
            return reply
        if dead is not None:
            raise WorkerLost(dead)
        self.peek(0.3)
        self.kill("cell timeout")
        raise CellTimeout(f"timed out after {timeout:g}s")

    def peek(self, timeout: float) -> str | None:
        """Ask the worker's reader thread for `answer["content"]` (works while a cell runs,
        unless the cell holds the GIL in C code). None if it does not answer in time."""
        self._peek_event.clear()
        try:
            self.channel.send_json({"op": "peek"})
        except wire.WireError:
            return None
        if self._peek_event.wait(timeout):
            return self.peeked
        return None

    # -- lifecycle ----------------------------------------------------------------------------
    def set_memory_limit(self, limit: int) -> bool:
        """Raise the worker's address-space limit from outside (it cannot: seccomp)."""
        import resource

        try:
            _soft, hard = resource.prlimit(self.pid, resource.RLIMIT_AS)
            new_hard = hard if hard == resource.RLIM_INFINITY or hard >= limit else limit
            resource.prlimit(self.pid, resource.RLIMIT_AS, (limit, new_hard))
            return True
        except (OSError, ValueError) as exc:
            log.info("cannot raise sandbox worker memory limit in place (%s)", exc)
            return False

    @property
    def alive(self) -> bool:
        return self._dead is None and self.proc.poll() is None

    def kill(self, reason: str) -> None:
        """SIGKILL the worker's whole process group (it is a session leader)."""
        with self._cv:
            first = self._killed_reason is None
            if first:
                self._killed_reason = reason
        if first and self._on_kill is not None:
            try:
                self._on_kill()
            except Exception as exc:  # best effort; the process group is killed below anyway
                log.warning("sandbox worker kill hook failed: %s", exc)
        if isinstance(self.proc, subprocess.Popen):  # a remote handle has no local group
            inner = self.pid
            if (
                inner > 1 and inner != self.proc.pid and self.proc.poll() is None
            ):  # bwrap: the interpreter first
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(inner, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()

    def close(self) -> None:
        if self.proc.poll() is None and self._killed_reason is None:
            with contextlib.suppress(wire.WireError, OSError):
                self.channel.send_json({"op": "shutdown"})
            try:
                self.proc.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                self.kill("closed")
        self.kill("closed")
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        if self.pid > 1 and self.pid != self.proc.pid and not wait_gone(self.pid, 5.0):
            # bwrap's grandchild dies just after bwrap; one that does not is worth a line
            log.warning("sandbox worker %d still runs 5 s after SIGKILL", self.pid)
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
        reader = getattr(self, "_reader", None)
        if reader is not None and reader is not threading.current_thread():
            reader.join(timeout=5)  # it sees EOF: the worker is dead and the socket shut
        # Callbacks still running on the pool must not write to a recycled fd number.
        self.channel.close()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        if self._sock is not None:
            self._sock.close()
