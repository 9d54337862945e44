"""`local`: in-process `exec`, as the reference implementation. Fast, no isolation.

For trusted code and tools that are host objects. Thread-safe: parallel child RLMs each
capture their own output (per-thread routing, no stdout swap, no chdir), and the context is
bound by reference (no temp-file round trip).
"""

from __future__ import annotations

import copy
import ctypes
import logging
import shutil
import tempfile
import threading
from typing import Any

from rlm.environments import toolkit
from rlm.environments.base import BaseEnv, Host, ToolSpec
from rlm.environments.proxies import Exposed
from rlm.environments.runtime import CellInterrupted, REPLSession
from rlm.errors import REPLEnvironmentError
from rlm.types import REPLResult

log = logging.getLogger("rlm")


class LocalREPL(BaseEnv):
    name = "local"

    def __init__(
        self,
        host: Host | None = None,
        tools: list[ToolSpec] | None = None,
        *,
        compaction: bool = False,
        **kwargs: Any,
    ):
        super().__init__(host, tools, **kwargs)
        self.compaction = compaction
        self._session = REPLSession(
            self._call_host,
            # In-process, tools are the objects themselves (an `expose` wrapper is unwrapped).
            {
                t.name: t.value.target if isinstance(t.value, Exposed) else t.value
                for t in self.tools
            },
            compaction=compaction,
            toolkit=toolkit,
        )
        self._closed = False
        self._temp_dir: str | None = None
        # Which thread runs a cell, and whether it was already interrupted: written only under
        # the lock, so an interrupt can never be sent to a thread that has left its cell.
        self._cell_lock = threading.Lock()
        self._cell_thread: int | None = None
        self._interrupt_sent = False
        self._finish_init()

    def _call_host(self, name: str, payload: dict[str, Any]) -> Any:
        return self.host.call(name, payload)  # type: ignore[union-attr]

    def load_context(self, context: Any, index: int = 0) -> None:
        self._session.set_context(context, self._counted("context", index))

    def add_history(self, messages: list[dict[str, Any]], index: int | None = None) -> int:
        index = self._counted("history", index)
        # A copy: the caller may keep editing its list.
        self._session.set_history(copy.deepcopy(messages), index)
        return index

    def append_compaction_history(self, entry: Any) -> None:
        self._session.append_compaction_history(entry)

    def execute_code(self, code: str) -> REPLResult:
        if self._closed:
            raise REPLEnvironmentError("this LocalREPL is closed")
        try:
            # Inside the try: an interrupt may land the moment the lock is released, before
            # the cell starts, and must be handled here like one that lands inside the cell.
            with self._cell_lock:
                self._cell_thread, self._interrupt_sent = threading.get_ident(), False
            out = self._session.run(code)
        except CellInterrupted:
            # The interrupt lost the race with the cell's end and landed in the bookkeeping
            # after it: the cell's output is gone, but the run (which tripped a limit) ends.
            out = _INTERRUPTED
        finally:
            try:
                self._end_cell()
            except CellInterrupted:  # delivered on entry to _end_cell; at most one is sent
                self._end_cell()
        return REPLResult(
            rlm_calls=self._host_calls(),
            stdout=out["stdout"],
            stderr=out["stderr"],
            locals=out["locals"],
            execution_time=out["execution_time"],
            final_answer=out["final_answer"],
            truncated_chars=out["truncated_chars"],
        )

    def resolve_variable(self, name: str) -> str | None:
        return self._session.resolve(name)

    def set_variables(self, values: dict[str, Any]) -> None:
        try:
            self._session.set_variables(values)
        except ValueError as exc:
            raise REPLEnvironmentError(str(exc)) from exc

    def json_variables(self) -> dict[str, Any]:
        found = self._session.json_variables()
        if found["skipped"]:
            log.info("REPL variables that are not JSON, left out: %s", found["skipped"])
        return found["values"]

    @property
    def partial_answer(self) -> str | None:
        return self._session.partial_answer

    @property
    def namespace(self) -> dict[str, Any]:
        return self._session.namespace

    @property
    def locals(self) -> dict[str, Any]:
        """The REPL's namespace itself (reference name), for host code that reads results."""
        return self._session.namespace

    @property
    def temp_dir(self) -> str:
        """A scratch directory owned by this REPL, removed by `close()`. Cells do not chdir
        into it (that would be process-wide); pass its path to code that needs one."""
        if self._temp_dir is None:
            self._temp_dir = tempfile.mkdtemp(prefix="rlm-local-")
        return self._temp_dir

    def interrupt(self) -> None:
        # Raise CellInterrupted inside the thread running the cell. Python-level loops stop at
        # the next bytecode; a C call that never returns cannot be stopped in-process (use
        # the sandbox environment for untrusted code).
        with self._cell_lock:
            thread_id = self._cell_thread
            if thread_id is None or thread_id == threading.get_ident() or self._interrupt_sent:
                return
            self._interrupt_sent = True
            _set_async_exc(thread_id, CellInterrupted)

    def _end_cell(self) -> None:
        with self._cell_lock:
            self._cell_thread = None
            # An interrupt sent but not yet delivered must not fire later in engine code.
            _set_async_exc(threading.get_ident(), None)

    def close(self) -> None:
        self._closed = True
        self._session.namespace.clear()
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)


_INTERRUPTED: dict[str, Any] = {
    "stdout": "",
    "stderr": "Interrupted: the cell was stopped by the host\n",
    "locals": {},
    "execution_time": 0.0,
    "final_answer": None,
    "truncated_chars": 0,
}


def _set_async_exc(thread_id: int, exc: type[BaseException] | None) -> None:
    """Schedule `exc` in a thread at its next bytecode; None clears a pending one."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc is not None else None
    )
