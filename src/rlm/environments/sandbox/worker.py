"""The worker process: REPLSession driven over the channel. Standard library only.

The host starts `python -I -B -c BOOTSTRAP <rfd> <wfd>` and sends one frame with the source
of this module and its siblings (wire, lockdown, runtime) plus the lockdown config. The worker
never imports rlm (nor anything third-party), so the lockdown needs no access to the repo.

Threads: the main thread runs cells; a reader thread owns the channel's read side. Host
callbacks made by model code (from any thread) send a `call` frame and wait for the `reply`
with their id, so many calls can be in flight at once.

Model code runs in this process and can reach everything here (the channel fds included):
nothing here is a security boundary. The boundary is the kernel lockdown, plus a host that
treats every frame from the worker as untrusted data.
"""

from __future__ import annotations

import faulthandler
import itertools
import os
import queue
import sys
import threading
from typing import Any

wire: Any = sys.modules.get("_rlm_wire")
lockdown: Any = sys.modules.get("_rlm_lockdown")
runtime: Any = sys.modules.get("_rlm_runtime")
proxy_runtime: Any = sys.modules.get("_rlm_proxy_runtime")


class Worker:
    def __init__(self, channel: Any, config: dict[str, Any]):
        self.channel = channel
        self.config = config
        self.inbox: queue.Queue[Any] = queue.Queue()
        self.pending: dict[int, list[Any]] = {}
        self.pending_lock = threading.Lock()
        self.ids = itertools.count(1)
        self.session: Any = None

    # -- host callbacks ---------------------------------------------------------------------
    def call_host(self, name: str, payload: dict[str, Any]) -> Any:
        rid = next(self.ids)
        slot: list[Any] = [threading.Event(), None]
        with self.pending_lock:
            self.pending[rid] = slot
        try:
            data = wire.encode_json({"op": "call", "id": rid, "name": name, "payload": payload})
            wire.check_call(data)  # the host holds calls to this budget: say so here, politely
            self.channel.send_encoded(data)
        except (TypeError, ValueError) as exc:
            with self.pending_lock:
                self.pending.pop(rid, None)
            raise TypeError(f"{name}: arguments must be JSON values ({exc})") from None
        except wire.WireError as exc:
            with self.pending_lock:
                self.pending.pop(rid, None)
            raise ValueError(f"{name}: request too large ({exc}); send smaller pieces") from None
        slot[0].wait()
        reply = slot[1]
        if reply.get("ok"):
            return reply.get("value")
        raise RuntimeError(str(reply.get("error") or f"{name} failed"))

    def make_tool(self, name: str) -> Any:
        def tool(*args: Any, **kwargs: Any) -> Any:
            payload = {"name": name, "args": proxy_runtime.encode(list(args)),
                       "kwargs": proxy_runtime.encode(kwargs)}  # fmt: skip
            # A result that is a host object arrives as a proxy descriptor.
            return proxy_runtime.revive(self.call_host("tool", payload), self.call_host)

        tool.__name__ = tool.__qualname__ = name
        return tool

    # -- reading ----------------------------------------------------------------------------
    def reader(self) -> None:
        try:
            while True:
                _kind, msg = self.channel.recv()
                if not isinstance(msg, dict):
                    continue
                op = msg.get("op")
                if op == "reply":
                    with self.pending_lock:
                        slot = self.pending.pop(msg.get("id"), None)
                    if slot is not None:
                        slot[1] = msg
                        slot[0].set()
                elif op == "context":
                    msg["value"] = self.read_payload(msg)
                    self.inbox.put(msg)
                elif op == "peek":
                    # Answered here, not by the (busy) main thread: the host asks just before
                    # it kills a runaway cell, to keep the answer the model wrote so far.
                    value = self.session.partial_answer if self.session is not None else None
                    self.channel.send_json({"op": "peeked", "value": value})
                else:
                    self.inbox.put(msg)
        except BaseException:  # channel gone: the host closed it or died
            os._exit(0)

    def read_payload(self, msg: dict[str, Any]) -> Any:
        if msg.get("kind") == "ascii":
            text = _new_ascii_str(int(msg["nbytes"]))
            if text is not None:
                # Received straight into the new str's buffer: one copy, 1x the context.
                view = _str_buffer(text)
                offset = 0
                for _ in range(int(msg["chunks"])):
                    offset += self.channel.recv_bytes_into(view[offset:])
                view.release()
                if offset != len(text):
                    raise ValueError("ascii context payload did not match its header")
                return text
            # Fallback: one buffer, filled in place, decoded once (2x the context).
            buf = bytearray(int(msg["nbytes"]))
            view = memoryview(buf)
            offset = 0
            for _ in range(int(msg["chunks"])):
                offset += self.channel.recv_bytes_into(view[offset:])
            view.release()
            text = buf.decode("ascii")
            del buf
            return text
        if msg.get("kind") == "str":
            parts = []
            for _ in range(int(msg["chunks"])):
                _k, data = self.channel.recv()
                parts.append(data.decode("utf-8", "surrogatepass"))
                del data
            text = "".join(parts)
            parts.clear()
            return text
        buf = bytearray()
        for _ in range(int(msg["chunks"])):
            _k, data = self.channel.recv()
            buf += data
        import json

        return json.loads(buf)

    # -- main loop --------------------------------------------------------------------------
    def run_cell(self, code: str) -> dict[str, Any]:
        try:
            return self.session.run(code)
        except KeyboardInterrupt:
            # The runtime lets KeyboardInterrupt through on the main thread (Ctrl-C in
            # `local`); here nobody pressed Ctrl-C: model code raised it. It is data.
            self.session._restore_names()
            return {"stdout": "", "stderr": "KeyboardInterrupt raised by the cell\n",
                    "locals": {}, "final_answer": None, "execution_time": 0.0,
                    "truncated_chars": 0, "interrupted": False}  # fmt: skip

    def serve(self) -> None:
        try:
            self._serve()
        except BaseException as exc:
            _fatal(exc)

    def _serve(self) -> None:
        cfg = self.config
        tools: dict[str, Any] = {
            name: proxy_runtime.revive(value, self.call_host)
            for name, value in (cfg.get("tool_data") or {}).items()
        }
        for name in cfg.get("tool_callables") or ():
            tools[name] = self.make_tool(name)
        self.session = runtime.REPLSession(
            self.call_host,
            tools,
            capture_limit=int(cfg.get("capture_limit") or runtime.DEFAULT_CAPTURE_LIMIT),
            compaction=bool(cfg.get("compaction")),
            toolkit=sys.modules.get("_rlm_toolkit"),
        )
        executor = self.config.get("executor")
        if executor == "ipython":
            self.session._execute = _ipython_executor(self.session)
        threading.Thread(target=self.reader, name="rlm-channel", daemon=True).start()
        send = self.channel.send_json
        max_final = int(cfg.get("max_final_chars") or 4_000_000)
        while True:
            msg = self.inbox.get()
            op = msg.get("op")
            if op == "exec":
                out = self.run_cell(str(msg.get("code", "")))
                final = out.get("final_answer")
                if isinstance(final, str) and len(final) > max_final:
                    out["final_answer"] = final[:max_final]
                    out["stderr"] += f"\n[final answer cut to {max_final} characters]\n"
                out["partial_answer"] = self.session.partial_answer
                out["locals"] = _few_locals(out.get("locals") or {})
                # "op" first: the host holds frames that start as calls to a smaller budget.
                out = {"op": "result", "id": msg.get("id"), **out}
                try:
                    send(out)
                except wire.WireError as exc:  # too big even after the caps: say so, keep state
                    send({"op": "result", "id": msg.get("id"), "stdout": out["stdout"][:100_000],
                          "stderr": f"[cell result too large to return: {exc}]\n",
                          "locals": {}, "final_answer": None,
                          "execution_time": out.get("execution_time", 0.0),
                          "truncated_chars": out.get("truncated_chars", 0)})  # fmt: skip
            elif op == "context":
                self.session.set_context(msg["value"], int(msg.get("index", 0)))
                send({"op": "ack", "id": msg.get("id")})
            elif op == "history":
                self.session.set_history(msg.get("value"), int(msg.get("index", 0)))
                send({"op": "ack", "id": msg.get("id")})
            elif op == "compaction":
                self.session.append_compaction_history(msg.get("value"))
                send({"op": "ack", "id": msg.get("id")})
            elif op == "setvars":
                try:
                    self.session.set_variables(dict(msg.get("values") or {}))
                    send({"op": "ack", "id": msg.get("id")})
                except ValueError as exc:
                    send({"op": "ack", "id": msg.get("id"), "error": str(exc)})
            elif op == "getvars":
                send({"op": "vars", "id": msg.get("id"), **self.session.json_variables()})
            elif op == "resolve":
                value = self.session.resolve(str(msg.get("name", "")))
                if isinstance(value, str) and len(value) > max_final:
                    value = value[:max_final]  # same cap as a FINAL() answer
                send({"op": "resolved", "id": msg.get("id"), "value": value})
            elif op == "snapshot":
                values = self.session.snapshot(int(msg.get("max_chars") or 1_000_000))
                send({"op": "snapshot", "id": msg.get("id"), "values": values})
            elif op == "shutdown":
                os._exit(0)


_ASCII_HEADER = sys.getsizeof("") - 1  # sizeof(PyASCIIObject) in CPython
MAX_LOCALS, MAX_NAME_CHARS = 1_000, 100  # the host applies the same caps again


def _few_locals(names: dict[str, str]) -> dict[str, str]:
    """The first MAX_LOCALS variables, names cut: 300k variables are not a listing."""
    shown = {}
    for key, value in names.items():
        if len(shown) >= MAX_LOCALS:
            shown["..."] = f"{len(names) - MAX_LOCALS:,} more variables not listed"
            break
        shown[str(key)[:MAX_NAME_CHARS]] = value
    return shown


def _new_ascii_str(n: int) -> Any:
    """A fresh, not yet shared, compact ASCII str of n characters (CPython's PyUnicode_New,
    as C code fills strings), or None when this interpreter is not laid out that way."""
    if sys.implementation.name != "cpython" or n < 1 << 20:
        return None
    import ctypes

    new = ctypes.pythonapi.PyUnicode_New
    new.restype = ctypes.py_object
    new.argtypes = [ctypes.c_ssize_t, ctypes.c_uint32]
    text = new(n, 127)
    if sys.getsizeof(text) != _ASCII_HEADER + n + 1:
        return None
    return text


def _str_buffer(text: str) -> memoryview:
    import ctypes

    address = id(text) + _ASCII_HEADER
    raw = (ctypes.c_char * len(text)).from_address(address)
    return memoryview(raw).cast("B")


def _fatal(exc: BaseException) -> None:
    """The worker's own loop failed (model code wrecked something it relies on): exit, so
    the host sees a lost worker at once instead of waiting for the cell timeout."""
    try:
        os.write(2, f"rlm worker: {type(exc).__name__}: {exc}\n".encode(errors="replace"))
    finally:
        os._exit(70)


def _ipython_executor(session: Any) -> Any:
    """Run cells through IPython's InteractiveShell (magics, rich display) on the same
    namespace. Only the `ipython` environment asks for this; it needs IPython installed."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance(user_ns=session.namespace)
    shell.colors = "NoColor"
    # We re-raise errors ourselves so they land in stderr like every other environment.
    shell.showtraceback = lambda *args, **kwargs: None
    shell.showsyntaxerror = lambda *args, **kwargs: None

    hidden = {"In", "Out", "exit", "quit", "get_ipython", "open", "_oh", "_dh", "_ih"}
    plain_variables = session.user_variables
    session.user_variables = lambda: [n for n in plain_variables() if n not in hidden]

    def execute(code: str, out: Any) -> None:
        # Like the plain runtime: a final FINAL(...)/FINAL_VAR/SHOW_VARS call is not echoed.
        import ast

        try:
            body = ast.parse(code).body
        except SyntaxError:
            body = []
        quiet = bool(body) and isinstance(body[-1], ast.Expr)
        quiet = quiet and runtime._is_final_call(ast.Expression(body[-1].value))
        shell.ast_node_interactivity = "none" if quiet else "last_expr"
        result = shell.run_cell(code, store_history=False, silent=False)
        if result.error_before_exec is not None:
            raise result.error_before_exec
        if result.error_in_exec is not None:
            raise result.error_in_exec

    return execute


def _move_off_stdio(rfd: int, wfd: int) -> tuple[int, int]:
    """When the channel is stdin/stdout (docker), move it to other fds and point 0/1 at
    /dev/null, so print() and os.write(1, ...) from model code never land on the channel."""
    if rfd > 2 and wfd > 2:
        return rfd, wfd
    new_r, new_w = os.dup(rfd), os.dup(wfd)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    return new_r, new_w


def main(rfd: int, wfd: int, boot: dict[str, Any]) -> None:
    rfd, wfd = _move_off_stdio(rfd, wfd)
    channel = wire.Channel(rfd, wfd, int(boot.get("max_message") or wire.DEFAULT_MAX_MESSAGE))
    config = boot["config"]
    try:
        faulthandler.enable(file=sys.__stderr__)
    except (ValueError, AttributeError, OSError):
        pass  # no usable stderr: crashes are still seen by the host as EOF
    if config.get("executor") == "ipython":
        # IPython's first start copies its profile files with their modes (chmod), which
        # seccomp refuses: create the profile before the lockdown.
        from IPython.core.profiledir import ProfileDir

        os.makedirs(os.environ["IPYTHONDIR"], exist_ok=True)
        ProfileDir.create_profile_dir_by_name(os.environ["IPYTHONDIR"], "default")
    try:
        report = lockdown.apply(config["lockdown"])
    except lockdown.LockdownUnavailable as exc:
        channel.send_json({"op": "unavailable", "feature": exc.feature, "reason": exc.reason})
        os._exit(3)
    except Exception as exc:
        channel.send_json({"op": "unavailable", "feature": "lockdown", "reason": repr(exc)})
        os._exit(3)
    if config.get("executor") == "ipython":
        import IPython  # noqa: F401 - fail now, not at the first cell
    channel.send_json({"op": "ready", "pid": os.getpid(), "lockdown": report})
    Worker(channel, config).serve()
