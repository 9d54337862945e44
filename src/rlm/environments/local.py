"""`local`: in-process `exec`, as the reference implementation. Fast, no isolation.

For trusted code and tools that are host objects. Thread-safe: parallel child RLMs each
capture their own output (per-thread routing, no stdout swap, no chdir), and the context is
bound by reference (no temp-file round trip).
"""

from __future__ import annotations

import copy
import ctypes
import shutil
import tempfile
import threading
from typing import Any

from rlm.environments.base import BaseEnv, Host, ToolSpec
from rlm.environments.proxies import Exposed
from rlm.environments.runtime import CellInterrupted, REPLSession
from rlm.errors import REPLEnvironmentError
from rlm.types import REPLResult


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
            {t.name: getattr(t.value, "target", t.value) if isinstance(t.value, Exposed)
             else t.value for t in self.tools},  # fmt: skip
            compaction=compaction,
        )
        self._closed = False
        self._temp_dir: str | None = None
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
        out = self._session.run(code)
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
        thread_id = self._session.running_thread
        if thread_id is None or thread_id == threading.get_ident():
            return
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(thread_id), ctypes.py_object(CellInterrupted)
        )

    def close(self) -> None:
        self._closed = True
        self._session.namespace.clear()
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
