"""REPL semantics shared by every environment.

Standard library only: this module runs in-process for `local` and inside the worker process of
every out-of-process environment, so both give the model exactly the same names and rules:

- `context` (and `context_N`), `history` (and `history_N`), `llm_query`, `llm_query_batched`,
  `rlm_query`, `rlm_query_batched`, `FINAL`, `FINAL_VAR`, `SHOW_VARS`, `answer`, custom tools;
  all restored after every cell if model code rebinds them.
- Variables assigned before an exception survive it (one persistent namespace).
- A final expression statement is echoed, as in a notebook.
- Output is captured per thread through a stream router installed once; nothing swaps
  `sys.stdout` per call, so parallel REPLs in one process each keep their own output.
"""

from __future__ import annotations

import ast
import builtins
import io
import json
import reprlib
import sys
import threading
import time
import traceback
import types
from collections.abc import Callable, Mapping
from typing import Any

CallHost = Callable[[str, dict[str, Any]], Any]

# With the toolkit's HELPER_NAMES these make rlm.environments.base.RESERVED_NAMES (this
# module must stay stdlib-only and importable on its own inside a worker).
FUNCTION_NAMES = (
    "llm_query",
    "llm_query_batched",
    "rlm_query",
    "rlm_query_batched",
    "FINAL",
    "FINAL_VAR",
    "SHOW_VARS",
)
RESERVED_NAMES = frozenset((*FUNCTION_NAMES, "context", "history", "answer"))

DEFAULT_CAPTURE_LIMIT = 1_000_000  # chars kept per stream per cell; the rest is counted
MAX_JSON_VARIABLE_CHARS = 1_000_000  # a bigger variable is not offered to the host as JSON


class CellInterrupted(BaseException):
    """Raised inside a running cell (from another thread) to stop it."""


class _Capture:
    """A bounded buffer: keeps the first `limit` characters and counts the rest."""

    __slots__ = ("dropped", "limit", "parts", "size")

    def __init__(self, limit: int):
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0
        self.dropped = 0

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            text = str(text)
        room = self.limit - self.size
        if room > 0:
            kept = text[:room]
            self.parts.append(kept)
            self.size += len(kept)
            self.dropped += len(text) - len(kept)
        else:
            self.dropped += len(text)
        return len(text)

    def getvalue(self) -> str:
        return "".join(self.parts)


class _StreamRouter(io.TextIOBase):
    """Stands in for sys.stdout/sys.stderr: writes go to the current thread's capture."""

    def __init__(self, fallback: Any, slot: str):
        self._fallback = fallback
        self._slot = slot

    def write(self, text: str) -> int:
        target = getattr(_capture_state, self._slot, None)
        if target is not None:
            return target.write(text)
        return self._fallback.write(text)

    def _captured(self) -> bool:
        return getattr(_capture_state, self._slot, None) is not None

    def flush(self) -> None:
        if not self._captured():
            self._fallback.flush()

    def writable(self) -> bool:
        return True

    # Host code (rich, click, faulthandler) sees the original stream: the router is only
    # visible to the thread whose output it is capturing.
    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8" if self._captured() else getattr(self._fallback, "encoding", "utf-8")

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return "strict" if self._captured() else getattr(self._fallback, "errors", None)

    def isatty(self) -> bool:
        return False if self._captured() else self._fallback.isatty()

    def fileno(self) -> int:
        if self._captured():
            raise io.UnsupportedOperation("captured REPL output has no file descriptor")
        return self._fallback.fileno()

    def __getattr__(self, name: str) -> Any:
        # buffer, name, mode, reconfigure, ...: whatever the original stream offers.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._fallback, name)


_capture_state = threading.local()
_install_lock = threading.Lock()


def _ensure_router() -> None:
    """Install the routers once, and again if model code replaced sys.stdout/sys.stderr."""
    with _install_lock:
        if not isinstance(sys.stdout, _StreamRouter):
            sys.stdout = _StreamRouter(sys.stdout, "stdout")
        if not isinstance(sys.stderr, _StreamRouter):
            sys.stderr = _StreamRouter(sys.stderr, "stderr")


_short = reprlib.Repr()
_short.maxstring = 80
_short.maxother = 80
_short.maxlist = 6
_short.maxdict = 6


def short_repr(value: Any) -> str:
    """A bounded repr that never fails (values may define hostile __repr__)."""
    try:
        text = _short.repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    if isinstance(value, (str, bytes, list, tuple, dict, set)) and len(value) > 6:
        text += f"  # len={len(value)}"
    return text


def to_text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


class REPLSession:
    """One persistent namespace plus the REPL names, driven by `run(code)`."""

    def __init__(
        self,
        call_host: CallHost,
        tools: Mapping[str, Any] | None = None,
        *,
        capture_limit: int = DEFAULT_CAPTURE_LIMIT,
        compaction: bool = False,
        toolkit: Any = None,
    ):
        # `toolkit`: the runtime layer's helpers module (rlm.environments.toolkit, or its
        # copy shipped to a worker): decodes a Context sent as data and builds ctx, P,
        # ask_chunks, ... over `context`. Passed in, so this module imports nothing of ours.
        self._toolkit = toolkit
        self._helpers: dict[str, Any] = {}
        self._helper_specs: dict[str, Any] = {}  # pristine copies: rebuilt before each cell
        self._call_host = call_host
        self.capture_limit = capture_limit
        self.compaction = compaction
        self._final: str | None = None
        self.running_thread: int | None = None
        self.namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
        self._contexts: dict[int, Any] = {}
        self._histories: dict[int, Any] = {}
        self._compaction_history: list[Any] = []
        self._tools = dict(tools or {})
        # Which helpers exist is fixed here, from the environment's configuration; the
        # callables themselves are built fresh by `HELPER_FACTORIES` before every cell.
        self._factories = dict(HELPER_FACTORIES)
        self._functions: tuple[str, ...] = tuple(self._factories)
        self._answer = {"content": "", "ready": False}
        self._restore_names()

    # -- the names the model sees ---------------------------------------------------------
    # The callables are closures made by `HELPER_FACTORIES` (module level, below); these
    # methods are their implementations.
    def _final_value(self, value: Any) -> Any:
        if value is self._answer:
            # FINAL(answer): the reserved dict means its content; empty content is no answer.
            content = self._answer.get("content")
            if content in ("", None):
                print(
                    'FINAL(answer): answer["content"] is empty, so there is no answer yet. '
                    "Put the answer itself inside FINAL(...).",
                    file=sys.stderr,
                )
                return value
            value = content
        self._final = to_text(value)
        return value

    def _final_var(self, name: Any) -> Any:
        if not isinstance(name, str):
            # The model passed the value itself rather than its name: that value is the answer.
            return self._final_value(name)
        key = name.strip().strip("'\"").strip()
        if key in self.namespace and key not in self._functions:
            return self._final_value(self.namespace[key])
        available = ", ".join(self.user_variables()) or "none"
        print(
            f"FINAL_VAR: no variable named {key!r} (variables: {available}). "
            "Assign it first, or call FINAL(value).",
            file=sys.stderr,
        )
        return None

    def _show_vars(self) -> dict[str, str]:
        shown = {name: type(self.namespace[name]).__name__ for name in self.user_variables()}
        print(shown)
        return shown

    def user_variables(self) -> list[str]:
        return [
            k
            for k, v in self.namespace.items()
            if not k.startswith("_")
            and k not in RESERVED_NAMES
            and k not in self._helpers
            and k not in self._tools
            and not isinstance(v, type(sys))
        ]

    # -- state the host loads ---------------------------------------------------------------
    def set_context(self, value: Any, index: int = 0) -> None:
        if self._toolkit is not None:
            value = self._toolkit.from_wire(value)
            if index == 0:
                try:
                    self._helpers = self._toolkit.build_helpers(
                        value,
                        self._factories["llm_query"](self),
                        self._factories["llm_query_batched"](self),
                    )
                    self._helper_specs = {n: _snapshot(f) for n, f in self._helpers.items()
                                          if isinstance(f, types.FunctionType)}  # fmt: skip
                except Exception as exc:  # e.g. MemoryError joining a huge document list
                    self._helpers, self._helper_specs = {}, {}
                    if sys.__stderr__ is not None:  # the host's log / the worker's stderr
                        sys.__stderr__.write(f"rlm: ctx/P helpers unavailable: {exc!r}\n")
        self._contexts[index] = value
        self.namespace[f"context_{index}"] = value
        self._restore_names()

    def set_history(self, value: Any, index: int) -> None:
        self._histories[index] = value
        self.namespace[f"history_{index}"] = value
        self._restore_names()

    def append_compaction_history(self, entry: Any) -> None:
        self._compaction_history.append(entry)

    def set_variables(self, values: Mapping[str, Any]) -> None:
        """Bind host-given values as ordinary variables (model code may change them)."""
        for name in values:
            if not self.is_user_name(name):
                raise ValueError(f"{name!r} cannot be set: it is not a free variable name")
        self.namespace.update(values)

    def is_user_name(self, name: Any) -> bool:
        return (
            isinstance(name, str)
            and name.isidentifier()
            and not name.startswith(("_", "context_", "history_"))
            and name not in RESERVED_NAMES
            and name not in self._helpers
            and name not in self._tools
        )

    def json_variables(self, max_chars: int = MAX_JSON_VARIABLE_CHARS) -> dict[str, Any]:
        """{"values": {name: value}, "skipped": [names]}: the user variables whose values
        survive a JSON round trip unchanged (and are at most `max_chars` as JSON)."""
        values: dict[str, Any] = {}
        skipped: list[str] = []
        for name in self.user_variables():
            value = self.namespace[name]
            if not self.is_user_name(name) or callable(value):
                continue  # functions and classes the model defined: not data
            try:
                text = json.dumps(value, allow_nan=False)
                same = len(text) <= max_chars and json.loads(text) == value
            except (TypeError, ValueError, RecursionError):
                same = False
            if same:
                values[name] = json.loads(text)
            else:
                skipped.append(name)
        return {"values": values, "skipped": skipped}

    def set_tools(self, tools: Mapping[str, Any]) -> None:
        self._tools = dict(tools)
        self._restore_names()

    def _restore_names(self) -> None:
        ns = self.namespace
        # Fresh function objects every time, never one kept in a table: model code that
        # swapped a helper's `__code__`, defaults or closure cells, or rebound what a
        # helper's table points to, does not carry into the next cell or turn.
        for name in self._functions:
            ns[name] = self._factories[name](self)
        for name, value in self._helpers.items():
            spec = self._helper_specs.get(name)
            ns[name] = _rebuild(spec) if spec is not None else value
        ns.update(self._tools)
        if 0 in self._contexts:
            ns["context"] = self._contexts[0]
        for index, value in self._contexts.items():
            ns[f"context_{index}"] = value
        if self.compaction:
            ns["history"] = self._compaction_history
        elif 0 in self._histories:
            ns["history"] = self._histories[0]
        if ns.get("answer") is not self._answer:
            ns["answer"] = self._answer
        if ns.get("__builtins__") is not builtins:
            ns["__builtins__"] = builtins

    def _take_answer(self) -> None:
        """An `answer` dict with ready=True is a final answer (also if the model rebound it)."""
        candidate = self.namespace.get("answer")
        for obj in (candidate, self._answer):
            if isinstance(obj, dict) and obj.get("ready") and self._final is None:
                self._final = to_text(obj.get("content", ""))
        if isinstance(candidate, dict) and candidate is not self._answer:
            self._answer.clear()
            self._answer.update({"content": "", "ready": False})
            self._answer.update({k: candidate[k] for k in ("content", "ready") if k in candidate})
        if self._answer.get("ready"):
            self._answer["ready"] = False  # consumed: one final answer per cell

    @property
    def partial_answer(self) -> str | None:
        content = self._answer.get("content")
        return to_text(content) if content not in ("", None) else None

    # -- running code -----------------------------------------------------------------------
    def run(self, code: str) -> dict[str, Any]:
        """Execute one block. Returns stdout, stderr, locals, final_answer, execution_time,
        truncated_chars, interrupted."""
        _ensure_router()
        out, err = _Capture(self.capture_limit), _Capture(self.capture_limit)
        _capture_state.stdout, _capture_state.stderr = out, err
        self._final = None
        interrupted = False
        self.running_thread = threading.get_ident()
        start = time.perf_counter()
        try:
            self._execute(code, out)
        except CellInterrupted as exc:
            interrupted = True
            err.write(f"Interrupted: {str(exc) or 'the cell was stopped by the host'}\n")
        except BaseException as exc:  # model code errors are data, SystemExit included
            if isinstance(exc, KeyboardInterrupt) and threading.current_thread() is (
                threading.main_thread()
            ):
                raise
            err.write(self._format_exception(exc))
        finally:
            self.running_thread = None
            _capture_state.stdout = _capture_state.stderr = None
            elapsed = time.perf_counter() - start
        self._take_answer()
        self._restore_names()
        _ensure_router()
        return {
            "stdout": out.getvalue(),
            "stderr": err.getvalue(),
            "locals": {name: short_repr(self.namespace[name]) for name in self.user_variables()},
            "final_answer": self._final,
            "execution_time": elapsed,
            "truncated_chars": out.dropped + err.dropped,
            "interrupted": interrupted,
        }

    def _execute(self, code: str, out: _Capture) -> None:
        tree = ast.parse(code, filename="<repl>", mode="exec")
        last_expr = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last_expr = ast.Expression(tree.body.pop().value)
        if tree.body:
            exec(compile(tree, "<repl>", "exec"), self.namespace)
        if last_expr is not None:
            value = eval(compile(last_expr, "<repl>", "eval"), self.namespace)
            if value is not None and not _is_final_call(last_expr):
                out.write(short_repr_full(value) + "\n")

    @staticmethod
    def _format_exception(exc: BaseException) -> str:
        te = traceback.TracebackException.from_exception(exc, limit=-8)
        # Frames of this module are ours, not the model's: hide them.
        te.stack = traceback.StackSummary.from_list([f for f in te.stack if f.filename != __file__])
        return "".join(te.format())

    def snapshot(self, max_chars: int = 1_000_000) -> dict[str, Any]:
        """The model's variables (and `answer`) for host code: JSON values as themselves up to
        `max_chars` each, anything else as its short repr. Contexts and histories are not
        included (the host has them)."""
        import json

        out: dict[str, Any] = {"answer": dict(self._answer)}
        for name in self.user_variables():
            if name.startswith(("context_", "history_")):
                continue
            value = self.namespace[name]
            try:
                fits = len(json.dumps(value)) <= max_chars
            except (TypeError, ValueError, RecursionError):
                fits = False
            out[name] = value if fits else short_repr(value)
        return out

    def resolve(self, name: str) -> str | None:
        if not name.isidentifier() or name not in self.namespace or name in self._functions:
            return None
        value = self.namespace[name]
        if value is self._answer:  # the reserved dict stands for its content (or nothing)
            content = value.get("content")
            return to_text(content) if content not in ("", None) else None
        return to_text(value)


def _call_helper(name: str, key: str) -> Callable[[REPLSession], Any]:
    """A factory for a host-call helper: `name(prompt_or_prompts, model=None)`."""

    def factory(session: REPLSession) -> Any:
        call = session._call_host
        batched = key == "prompts"

        def helper(prompt: Any, model: str | None = None) -> Any:
            value = list(prompt) if batched else prompt
            return call(name, {key: value, "model": model})

        helper.__name__ = helper.__qualname__ = name
        return helper

    return factory


def _session_helper(method: str, name: str) -> Callable[[REPLSession], Any]:
    """A factory for a helper implemented by a REPLSession method (FINAL, FINAL_VAR, ...)."""
    code = getattr(REPLSession, method).__code__  # the pristine code, taken at import

    def factory(session: REPLSession) -> Any:
        impl = types.FunctionType(code, globals(), method)

        def helper(*args: Any, **kwargs: Any) -> Any:
            return impl(session, *args, **kwargs)

        helper.__name__ = helper.__qualname__ = name
        return helper

    return factory


def _snapshot(fn: Any, depth: int = 3) -> tuple[Any, ...]:
    """What rebuilds `fn` as it is now: code, globals, name, defaults and closure contents
    (functions among them snapshotted too, `depth` levels down)."""
    cells = []
    for cell in fn.__closure__ or ():
        try:
            content = cell.cell_contents
        except ValueError:  # an empty cell
            content = None
        if depth and isinstance(content, types.FunctionType):
            content = ("fn", _snapshot(content, depth - 1))
        else:
            content = ("value", content)
        cells.append(content)
    kwdefaults = dict(fn.__kwdefaults__) if fn.__kwdefaults__ else None
    closure = tuple(cells) if fn.__closure__ is not None else None
    return (fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, kwdefaults, closure)


def _rebuild(spec: tuple[Any, ...]) -> Any:
    """A new function object (new cells too) from a `_snapshot`."""
    code, globals_, name, defaults, kwdefaults, cells = spec
    closure = None
    if cells is not None:
        closure = tuple(types.CellType(_rebuild(c) if kind == "fn" else c) for kind, c in cells)
    fn = types.FunctionType(code, globals_, name, defaults, closure)
    fn.__kwdefaults__ = dict(kwdefaults) if kwdefaults else None
    return fn


# Protected REPL helpers: name -> factory(session) building a fresh callable each cell.
# Other modules may add entries (a REPL helper module, a proxy) before sessions are made.
HELPER_FACTORIES: dict[str, Callable[[REPLSession], Any]] = {
    "llm_query": _call_helper("llm_query", "prompt"),
    "llm_query_batched": _call_helper("llm_query_batched", "prompts"),
    "rlm_query": _call_helper("rlm_query", "prompt"),
    "rlm_query_batched": _call_helper("rlm_query_batched", "prompts"),
    "FINAL": _session_helper("_final_value", "FINAL"),
    "FINAL_VAR": _session_helper("_final_var", "FINAL_VAR"),
    "SHOW_VARS": _session_helper("_show_vars", "SHOW_VARS"),
}


def _is_final_call(expr: ast.Expression) -> bool:
    node = expr.body
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("FINAL", "FINAL_VAR", "SHOW_VARS")
    )


def short_repr_full(value: Any, limit: int = 20_000) -> str:
    """repr for echoing a final expression: complete up to `limit` characters."""
    if isinstance(value, (str, bytes)) and len(value) > limit:
        # Never build a repr of a whole (possibly gigabyte) context.
        return repr(value[:limit]) + f"... [{len(value) - limit} more chars]"
    try:
        text = repr(value)
    except Exception as exc:
        return f"<repr failed: {type(exc).__name__}>"
    if len(text) > limit:
        return text[:limit] + f"... [{len(text) - limit} more chars]"
    return text
