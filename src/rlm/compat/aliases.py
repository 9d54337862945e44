"""The one table of reference (`rlms`) names and module paths, and the import hook serving it.

`ALIASES` maps a reference module path to the names it offers, each "module:attribute" of
ours; importing such a path builds a thin module whose attributes resolve lazily. Paths that
are only parents of others ("rlm.utils") become empty packages. `EXTRA_NAMES` adds reference
names to modules of ours that exist under the same path (`rlm.RLMLogger`). Nothing else in
the package knows these names.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from types import ModuleType
from typing import Any

_ENV = "rlm.compat.reference_env"
_UTILS = "rlm.compat.reference_utils"
_TYPES = "rlm.compat.reference_types"
_WIRE = "rlm.environments.handler_wire"
# The reference's custom-tool helpers: in rlm.environments.base_env and rlm.environments.
_TOOL_NAMES = (
    "RESERVED_TOOL_NAMES", "SupportsCustomTools", "SupportsPersistence", "ToolInfo",
    "extract_tool_value", "format_tools_for_prompt", "parse_custom_tools", "parse_tool_entry",
    "validate_custom_tools",
)  # fmt: skip

ALIASES: dict[str, dict[str, str]] = {
    "rlm.clients.base_lm": {
        "BaseLM": "rlm.clients.base:BaseLM",
        "DEFAULT_TIMEOUT": "rlm.clients.base:DEFAULT_TIMEOUT",
    },
    "rlm.environments.base_env": {
        name: f"{_ENV}:{name}"
        for name in ("BaseEnv", "IsolatedEnv", "NonIsolatedEnv", *_TOOL_NAMES)
    },
    "rlm.environments.local_repl": {"LocalREPL": "rlm.environments.local:LocalREPL"},
    "rlm.environments.ipython_repl": {"IPythonREPL": "rlm.environments.ipython:IPythonREPL"},
    "rlm.environments.docker_repl": {"DockerREPL": "rlm.environments.docker:DockerREPL"},
    "rlm.environments.constants": {},
    "rlm.logger.rlm_logger": {"RLMLogger": "rlm.logger.trajectory:RLMLogger"},
    "rlm.logger.verbose": {"VerbosePrinter": "rlm.logger.console:ConsolePrinter"},
    "rlm.core.lm_handler": {"LMHandler": "rlm.compat.lm_handler:LMHandler"},
    "rlm.core.comms_utils": {
        name: f"{_WIRE}:{name}"
        for name in (
            "LMRequest",
            "LMResponse",
            "send_lm_request",
            "send_lm_request_batched",
            "socket_recv",
            "socket_send",
        )
    },
    "rlm.utils": {},
    "rlm.utils.parsing": {
        name: f"{_UTILS}:{name}"
        for name in (
            "find_code_blocks",
            "format_iteration",
            "format_execution_result",
            "convert_context_for_repl",
        )
    },
    "rlm.utils.prompts": {
        "RLM_SYSTEM_PROMPT": "rlm.core.prompts:SYSTEM_PROMPT",
        "USER_PROMPT": f"{_UTILS}:USER_PROMPT",
        "QueryMetadata": "rlm.types:QueryMetadata",
        "build_rlm_system_prompt": f"{_UTILS}:build_rlm_system_prompt",
        "build_user_prompt": f"{_UTILS}:build_user_prompt",
    },
    "rlm.utils.rlm_utils": {"filter_sensitive_keys": "rlm.core.config:redact"},
    "rlm.utils.exceptions": {
        name: f"rlm.errors:{name}"
        for name in (
            "BudgetExceededError",
            "TimeoutExceededError",
            "TokenLimitExceededError",
            "ErrorThresholdExceededError",
            "CancellationError",
        )
    },
}

EXTRA_NAMES: dict[str, dict[str, str]] = {
    "rlm": {"RLMLogger": "rlm.logger.trajectory:RLMLogger"},
    "rlm.logger": {"VerbosePrinter": "rlm.logger.console:ConsolePrinter"},
    "rlm.core.types": {
        "ClientBackend": f"{_TYPES}:ClientBackend",
        "EnvironmentType": f"{_TYPES}:EnvironmentType",
        "RLMMetadata": f"{_TYPES}:RLMMetadata",
        "_serialize_value": f"{_TYPES}:_serialize_value",
    },
    "rlm.environments": {name: f"{_ENV}:{name}" for name in _TOOL_NAMES}
    | {"IPythonREPL": "rlm.environments.ipython:IPythonREPL"},
}

#: names the reference lists in a module's __all__ that ours does not
EXTRA_ALL: dict[str, tuple[str, ...]] = {"rlm.logger": ("VerbosePrinter",)}


def resolve(target: str) -> Any:
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def _lazy_getattr(names: dict[str, str], module_name: str, fallback: Any = None) -> Any:
    def __getattr__(attr: str) -> Any:
        if attr in names:
            return resolve(names[attr])
        if fallback is not None:
            return fallback(attr)
        raise AttributeError(f"module {module_name!r} has no attribute {attr!r}")

    __getattr__.rlm_compat = True  # type: ignore[attr-defined]
    return __getattr__


def _add_names(module: ModuleType) -> None:
    """Give one of our modules its reference names (once per module object)."""
    previous = module.__dict__.get("__getattr__")
    if getattr(previous, "rlm_compat", False):
        return
    names = EXTRA_NAMES[module.__name__]
    module.__getattr__ = _lazy_getattr(names, module.__name__, previous)  # type: ignore[attr-defined]
    extra = EXTRA_ALL.get(module.__name__, ())
    if extra:
        module.__all__ = [*module.__all__, *(n for n in extra if n not in module.__all__)]  # type: ignore[attr-defined]


def _is_package(name: str) -> bool:
    return any(other.startswith(name + ".") for other in ALIASES)


class _AliasLoader(importlib.abc.Loader):
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        names = ALIASES[module.__name__]
        module.__doc__ = f"Reference-compatible alias (see rlm.compat.aliases): {sorted(names)}"
        module.__all__ = sorted(names)  # type: ignore[attr-defined]
        module.__getattr__ = _lazy_getattr(names, module.__name__)  # type: ignore[attr-defined]


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname not in ALIASES:
            return None
        return importlib.machinery.ModuleSpec(
            fullname, _AliasLoader(), is_package=_is_package(fullname)
        )


class _NamesLoader(importlib.abc.Loader):
    """Our own module, loaded as usual, then given its reference names (also when it is
    imported afresh after being dropped from sys.modules)."""

    def __init__(self, inner: Any):
        self.inner = inner

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.inner.exec_module(module)
        _add_names(module)


class _NamesFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname == "rlm" or fullname not in EXTRA_NAMES:
            return None  # `rlm` itself calls install() from its __init__
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is not None and spec.loader is not None:
            spec.loader = _NamesLoader(spec.loader)
        return spec


_installed = False


def install() -> None:
    """Serve the reference paths and names. Called from `rlm/__init__.py` (again if `rlm` is
    imported afresh); the import hooks are registered once."""
    global _installed
    if not _installed:
        _installed = True
        sys.meta_path.insert(0, _NamesFinder())
        sys.meta_path.append(_AliasFinder())
    for module_name in EXTRA_NAMES:
        _add_names(importlib.import_module(module_name))
