"""`monty`: cells run in Pydantic's Monty, a Python interpreter written in Rust that runs in its
own worker process with no filesystem, network or OS access unless the host grants it, and
with hard limits on time and memory (the "secure REPL" backend of pyrlm-runtime).

Monty runs a subset of Python (no `del`, no `globals()`, no classes in some releases). The
REPL names are defined inside Monty as small Python functions that call private host
functions (`_rlm_*`, served through Monty's `external_lookup`), so model code that overwrites
a name gets it back at the next cell, as in every other environment. User variables are
tracked from each cell's assignments (Python's `ast`), for `SHOW_VARS()` and the logs.

environment_kwargs: cell_timeout (5 s of Monty execution per cell; waiting on llm_query does
not count), memory_limit (bytes; default 128 MiB + 4x the contexts' size), max_recursion_depth
(1000). A cell that trips a limit loses the session: a fresh one starts with contexts,
histories and tools loaded again, and the model is told.
"""

from __future__ import annotations

import ast
import json
import threading
from typing import Any

import pydantic_monty

from rlm.environments.base import BaseEnv, Host, ToolSpec
from rlm.environments.runtime import RESERVED_NAMES, _is_final_call, to_text
from rlm.errors import ConfigurationError, REPLEnvironmentError
from rlm.types import REPLResult

MiB = 1024**2

_PRELUDE = """
def llm_query(prompt, model=None):
    return _rlm_call("llm_query", {"prompt": prompt, "model": model})
def llm_query_batched(prompts, model=None):
    return _rlm_call("llm_query_batched", {"prompts": list(prompts), "model": model})
def rlm_query(prompt, model=None):
    return _rlm_call("rlm_query", {"prompt": prompt, "model": model})
def rlm_query_batched(prompts, model=None):
    return _rlm_call("rlm_query_batched", {"prompts": list(prompts), "model": model})
def FINAL(value):
    _rlm_final(value)
    return value
def FINAL_VAR(name):
    _rlm_final_var(name)
    return name
def SHOW_VARS():
    print(_rlm_show_vars())
if not isinstance(answer, dict):
    answer = {"content": "", "ready": False}
"""


def _assigned_names(code: str) -> set[str]:
    """Names a cell binds at top level (assignments, defs, imports, loop targets)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return {n for n in names if not n.startswith("_")}


def _ends_with_final_call(code: str) -> bool:
    """FINAL(...), FINAL_VAR(...), SHOW_VARS() as the last line are not echoed (as `local`)."""
    try:
        body = ast.parse(code).body
    except SyntaxError:
        return False
    return (
        bool(body)
        and isinstance(body[-1], ast.Expr)
        and _is_final_call(ast.Expression(body[-1].value))
    )


class MontyREPL(BaseEnv):
    name = "monty"

    def __init__(self, host: Host | None = None, tools: list[ToolSpec] | None = None, *,
                 compaction: bool = False, cell_timeout: float = 5.0,
                 memory_limit: int | None = None, max_recursion_depth: int = 1000,
                 **kwargs: Any):  # fmt: skip
        super().__init__(host, tools, **kwargs)
        if cell_timeout <= 0:
            raise ConfigurationError("cell_timeout must be a positive number of seconds")
        self.compaction = compaction
        self.cell_timeout = float(cell_timeout)
        self.memory_limit = memory_limit
        self.max_recursion_depth = max_recursion_depth
        for tool in self.tools:
            if not tool.is_callable:
                try:
                    json.dumps(tool.value)
                except (TypeError, ValueError) as exc:
                    raise ConfigurationError(
                        f"custom tool {tool.name!r}: only callables and JSON data can enter "
                        f"Monty ({exc})"
                    ) from exc
        self._contexts: dict[int, Any] = {}
        self._histories: dict[int, Any] = {}
        self._compaction: list[Any] = []
        self._user_names: set[str] = set()
        self._final: str | None = None
        self._final_var: str | None = None
        self._lock = threading.RLock()
        self._closed = False
        self._pool = pydantic_monty.Monty()
        self._pool.__enter__()
        self._session: Any = None
        self._start()

    # -- session lifecycle --------------------------------------------------------------------
    def _limits(self) -> Any:
        size = sum(len(json.dumps(c)) if not isinstance(c, str) else len(c)
                   for c in self._contexts.values())  # fmt: skip
        memory = self.memory_limit if self.memory_limit is not None else 128 * MiB + 4 * size
        return pydantic_monty.ResourceLimits(max_feed_duration_secs=self.cell_timeout,
                                             max_memory=memory,
                                             max_recursion_depth=self.max_recursion_depth)  # fmt: skip

    def _start(self) -> None:
        self._session = self._pool.checkout(limits=self._limits())
        self._session.__enter__()
        self._feed("answer = None")
        inputs: dict[str, Any] = {f"_rlm_context_{i}": c for i, c in self._contexts.items()}
        inputs.update({f"_rlm_history_{i}": h for i, h in self._histories.items()})
        if self.compaction:
            inputs["history"] = list(self._compaction)
        self._feed("None", inputs=inputs)
        self._restore()

    def _stop(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            session.__exit__(None, None, None)

    def _restart(self) -> None:
        self._stop()
        self._start()

    def _externals(self) -> dict[str, Any]:
        def call(name: str, payload: dict[str, Any]) -> Any:
            if self.host is None:
                raise RuntimeError(f"{name} is not available: this REPL has no host")
            return self.host.call(name, payload)

        def final(value: Any) -> None:
            self._final = to_text(value)

        def final_var(name: Any) -> None:
            if isinstance(name, str):
                self._final_var = name.strip().strip("'\"").strip()
            else:  # the value itself was passed: that is the answer
                self._final = to_text(name)

        table: dict[str, Any] = {"_rlm_call": call, "_rlm_final": final,
                                 "_rlm_final_var": final_var,
                                 "_rlm_show_vars": lambda: sorted(self._user_names)}  # fmt: skip
        for tool in self.tools:
            if tool.is_callable:
                table[f"_rlm_tool_{tool.name}"] = (
                    lambda *args, _n=tool.name, **kw: call("tool", {"name": _n, "args": list(args), "kwargs": kw})
                )  # fmt: skip
            else:
                table[f"_rlm_data_{tool.name}"] = lambda _v=tool.value: json.loads(json.dumps(_v))
        return table

    def _feed(self, code: str, **kwargs: Any) -> Any:
        return self._session.feed_run(code, external_lookup=self._externals(), **kwargs)

    def _restore(self) -> None:
        """Bind every REPL name again (model code may have rebound any of them)."""
        lines = [_PRELUDE]
        for i in self._contexts:
            lines.append(f"context_{i} = _rlm_context_{i}")
        if 0 in self._contexts:
            lines.append("context = _rlm_context_0")
        for i in self._histories:
            lines.append(f"history_{i} = _rlm_history_{i}")
        if 0 in self._histories and not self.compaction:
            lines.append("history = _rlm_history_0")
        for tool in self.tools:
            if tool.is_callable:
                lines.append(f"def {tool.name}(*args, **kwargs):\n"
                             f"    return _rlm_tool_{tool.name}(*args, **kwargs)")  # fmt: skip
            else:
                lines.append(f"{tool.name} = _rlm_data_{tool.name}()")
        self._feed("\n".join(lines))

    # -- BaseEnv --------------------------------------------------------------------------------
    def load_context(self, context: Any, index: int = 0) -> None:
        with self._lock:
            self._contexts[index] = context
            self._restart()  # the memory limit grows with the contexts

    def add_history(self, messages: list[dict[str, Any]], index: int) -> None:
        with self._lock:
            self._histories[index] = list(messages)
            self._feed("None", inputs={f"_rlm_history_{index}": list(messages)})
            self._restore()

    def append_compaction_history(self, entry: Any) -> None:
        with self._lock:
            self._compaction.append(entry)
            self._feed("history.append(_rlm_entry)", inputs={"_rlm_entry": entry})

    def execute_code(self, code: str) -> REPLResult:
        with self._lock:
            if self._closed:
                raise REPLEnvironmentError("this MontyREPL is closed")
            out: list[str] = []
            err: list[str] = []
            self._final, self._final_var = None, None
            state_lost = False

            def printed(stream: str, text: str) -> None:
                (err if stream == "stderr" else out).append(text)

            try:
                value = self._feed(code, print_callback=printed)
                if value is not None and not _ends_with_final_call(code):
                    out.append(repr(value) + "\n")
            except pydantic_monty.MontySyntaxError as exc:
                err.append(f"SyntaxError: {exc}\n")
            except pydantic_monty.MontyRuntimeError as exc:
                err.append(f"{exc}\n")
                if "TimeoutError" in str(exc) or "MemoryError" in str(exc):
                    # Monty's docs: after a limit the session's heap has no guarantees.
                    err.append("A limit stopped the cell: REPL state lost; contexts, history "
                               "and tools are loaded again. Re-run what you need.\n")  # fmt: skip
                    self._restart()
                    state_lost = True
            except pydantic_monty.MontyError as exc:
                err.append(f"{type(exc).__name__}: {exc}\n")
                self._restart()
                state_lost = True
            if not state_lost:
                self._user_names |= (
                    _assigned_names(code) - RESERVED_NAMES - {t.name for t in self.tools}
                )
                final = self._final
                if final is None and self._final_var is not None:
                    final = self.resolve_variable(self._final_var)
                    if final is None:
                        err.append(f"FINAL_VAR: no variable named {self._final_var!r}.\n")
                if final is None:
                    answer = self._feed("answer")
                    if isinstance(answer, dict) and answer.get("ready"):
                        final = to_text(answer.get("content", ""))
                self._restore()
            else:
                final = None
            return REPLResult(stdout="".join(out), stderr="".join(err),
                              locals=self._locals() if not state_lost else {},
                              final_answer=final, state_lost=state_lost)  # fmt: skip

    def _locals(self) -> dict[str, str]:
        shown = {}
        for name in sorted(self._user_names):
            value = self.resolve_variable(name, limit=200)
            if value is not None:
                shown[name] = value
        return shown

    def resolve_variable(self, name: str, limit: int | None = None) -> str | None:
        if not isinstance(name, str) or not name.isidentifier():
            return None
        with self._lock:
            try:
                value = self._feed(name)
            except pydantic_monty.MontyError:
                return None
        text = to_text(value)
        return text if limit is None else text[:limit]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._lock:
            self._stop()
            self._pool.__exit__(None, None, None)
