"""The environment seam: load a context, execute code -> REPLResult, close.

Every environment offers the model the same REPL names (see `RESERVED_NAMES`) with the same
semantics; the shared semantics live in `rlm.environments.runtime`, which runs in-process for
`local` and inside the worker process for every out-of-process environment.

Host callbacks (`llm_query`, `rlm_query`, custom tools) reach the host through a `Host`: an
allow-listed table of names taking and returning JSON values (`rlm.core.broker.Broker`).
Environments never hold a reference to the engine.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Protocol

# Names the engine provides in every REPL (defined by the stdlib-only runtime, which the
# sandbox worker loads on its own); model code that rebinds them gets them back.
from rlm.environments.tools import RESERVED_NAMES, ToolSpec, tool_specs  # noqa: F401
from rlm.errors import BrokerError, ConfigurationError, REPLEnvironmentError
from rlm.types import REPLResult

# Host callback names served over the broker. "tool" carries {"name", "args", "kwargs"}.
HOST_CALLS: frozenset[str] = frozenset(
    {"llm_query", "llm_query_batched", "rlm_query", "rlm_query_batched", "tool"}
)
# What a worker may send: the host calls, plus "proxy" (a method of a host object offered as a
# tool), which the environment serves itself (rlm.environments.proxies).
WORKER_CALLS: frozenset[str] = HOST_CALLS | {"proxy"}


class Host(Protocol):
    """What an environment may ask of the host. Arguments and results are JSON values."""

    def call(self, name: str, payload: dict[str, Any]) -> Any: ...


class HostTable:
    """A Host serving each allow-listed name in `HOST_CALLS` with its method `_<name>`
    (the engine's broker, and the host of an environment used on its own)."""

    def call(self, name: str, payload: dict[str, Any]) -> Any:
        if name not in HOST_CALLS or not isinstance(payload, dict):
            raise BrokerError(f"unknown host call {name!r}")
        try:
            return getattr(self, f"_{name}")(**payload)
        except TypeError as exc:
            raise BrokerError(f"bad arguments for {name}: {exc}") from exc


class BaseEnv(ABC):
    """A persistent Python REPL for one RLM run (or one conversation, when persistent)."""

    #: registry name, for logs and errors
    name: str = "base"

    def __init__(
        self,
        host: Host | None = None,
        tools: list[ToolSpec] | None = None,
        *,
        depth: int = 0,
        output_limit: int = 20_000,
        # Reference-style keywords, for environments used on their own (no RLM around them):
        custom_tools: dict[str, Any] | None = None,
        custom_sub_tools: dict[str, Any] | None = None,
        subcall_fn: Callable[[str, str | None], Any] | None = None,
        lm_handler_address: tuple[str, int] | None = None,
        persistent: bool = False,
        max_concurrent_subcalls: int = 4,
        context_payload: Any = None,
        setup_code: str | None = None,
    ):
        if custom_tools is not None:
            if tools is not None:
                raise ConfigurationError("give either tools (ToolSpecs) or custom_tools, not both")
            tools = tool_specs(custom_tools)
        self.tools = list(tools or [])
        self.custom_tools = dict(custom_tools or {t.name: t.value for t in self.tools})
        self.custom_sub_tools = (
            self.custom_tools if custom_sub_tools is None else dict(custom_sub_tools)
        )
        if host is not None and (subcall_fn is not None or lm_handler_address is not None):
            raise ConfigurationError(
                "subcall_fn / lm_handler_address are for environments used on their own; "
                "inside an RLM run the engine's broker serves rlm_query and llm_query"
            )
        # Used on its own (no RLM around it), the environment serves itself and reports its
        # own sub-calls; inside a run the engine's broker is the host and the loop drains it.
        self._own_host = host is None
        if host is None:
            from rlm.environments.direct_host import DirectHost

            host = DirectHost(
                tools={t.name: t.value for t in self.tools if t.is_callable},
                subcall_fn=subcall_fn,
                lm_handler_address=lm_handler_address,
                max_concurrent_subcalls=max_concurrent_subcalls,
                depth=depth,
            )
        self.host = host
        self.depth = depth
        self.output_limit = output_limit
        self.persistent = persistent
        self.max_concurrent_subcalls = max_concurrent_subcalls
        self.subcall_fn = subcall_fn
        self.setup_code = setup_code
        self._initial_context = context_payload
        self._context_count = 0
        self._history_count = 0

    def _finish_init(self) -> None:
        """Subclasses call this last in __init__: load `context_payload`, run `setup_code`.
        If either fails, the environment is closed (no worker left behind) and the error
        raised."""
        if self._initial_context is not None:
            try:
                self.load_context(self._initial_context, 0)
            except BaseException:
                self.close()
                raise
            self._initial_context = None
        if self.setup_code:
            result = self.execute_code(self.setup_code)
            if result.had_error:
                self.close()
                raise REPLEnvironmentError(
                    f"environment_kwargs['setup_code'] failed:\n{result.stderr.strip()[-2000:]}"
                    "\nFix the setup code (it runs once, before the model's first cell)."
                )

    def _host_calls(self) -> list[Any]:
        """The sub-call records of the cell that just ran (for `REPLResult.rlm_calls`)."""
        drain = getattr(self.host, "drain_calls", None)
        return list(drain()) if self._own_host and callable(drain) else []

    # -- the reference's persistence protocol (SupportsPersistence) ---------------------------
    def add_context(self, context_payload: Any, context_index: int | None = None) -> int:
        """Bind `context_<index>` (next free index when None); returns the index used."""
        index = self._context_count if context_index is None else int(context_index)
        self.load_context(context_payload, index)
        return index

    def get_context_count(self) -> int:
        return self._context_count

    def get_history_count(self) -> int:
        return self._history_count

    def update_handler_address(self, address: tuple[str, int]) -> None:
        """Point llm_query at another LM handler (environments used on their own)."""
        if not hasattr(self.host, "lm_handler_address"):
            raise ConfigurationError("this environment's llm_query is served by an RLM run")
        self.host.lm_handler_address = address  # type: ignore[attr-defined]

    @property
    def lm_handler_address(self) -> tuple[str, int] | None:
        return getattr(self.host, "lm_handler_address", None)

    def cleanup(self) -> None:
        """Reference name for `close()`."""
        self.close()

    @abstractmethod
    def load_context(self, context: Any, index: int = 0) -> None:
        """Bind `context_<index>`; index 0 is also bound as `context`. Implementations call
        `self._counted("context", index)`."""

    @abstractmethod
    def add_history(self, messages: list[dict[str, Any]], index: int | None = None) -> int:
        """Bind `history_<index>` (a finished conversation; next free index when None);
        index 0 is also `history`. Returns the index used."""

    def _counted(self, kind: str, index: int | None) -> int:
        """The index to bind (next free one when None), and the count kept up to date."""
        attr = f"_{kind}_count"
        count = getattr(self, attr)
        index = count if index is None else int(index)
        setattr(self, attr, max(count, index + 1))
        return index

    @abstractmethod
    def append_compaction_history(self, entry: Any) -> None:
        """With compaction on, `history` is a list that keeps every root message."""

    @abstractmethod
    def execute_code(self, code: str) -> REPLResult:
        """Run one code block; errors in the code come back in `stderr`, never raised."""

    @abstractmethod
    def resolve_variable(self, name: str) -> str | None:
        """`str(value)` of a REPL variable, or None when it is not bound."""

    # Optional: used by packages that keep a REPL's data between processes (rlm.agent).
    def set_variables(self, values: dict[str, Any]) -> None:
        """Bind JSON values as ordinary REPL variables (model code may change them)."""
        raise REPLEnvironmentError(
            f"the {self.name!r} environment cannot set REPL variables from the host; "
            "use 'sandbox' or 'local'"
        )

    def json_variables(self) -> dict[str, Any]:
        """The REPL's own variables whose values are JSON, by name (others left out)."""
        raise REPLEnvironmentError(
            f"the {self.name!r} environment cannot report its REPL variables; "
            "use 'sandbox' or 'local'"
        )

    @property
    def partial_answer(self) -> str | None:
        """The best answer so far (`answer["content"]`), for a run stopped by a limit."""
        return None

    def interrupt(self) -> None:  # noqa: B027 - optional hook
        """Stop the running cell from another thread (limits, Ctrl-C). Best effort."""

    def clear_interrupt(self) -> None:  # noqa: B027 - optional hook
        """Forget an interrupt that found no cell to stop: the run it was meant for is over,
        and a persistent REPL's next run must not inherit it."""

    @abstractmethod
    def close(self) -> None:
        """Release processes, files and threads. Safe to call twice."""

    def __enter__(self) -> BaseEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
