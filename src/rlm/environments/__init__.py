"""REPL environments. A name -> "module:Class" registry; `get_environment` builds one.

Adding an environment is one file in this folder plus one line in `REGISTRY`.
"""

from __future__ import annotations

import importlib
from typing import Any

from rlm.environments.base import RESERVED_NAMES, BaseEnv, Host, ToolSpec
from rlm.errors import ConfigurationError, MissingDependencyError

__all__ = [
    "REGISTRY",
    "RESERVED_NAMES",
    "BaseEnv",
    "Host",
    "LocalREPL",
    "ToolSpec",
    "get_environment",
]

# name -> ("module:Class", extra that provides its dependencies or None)
REGISTRY: dict[str, tuple[str, str | None]] = {
    "local": ("rlm.environments.local:LocalREPL", None),
    "sandbox": ("rlm.environments.sandbox:SandboxREPL", None),
    "docker": ("rlm.environments.docker:DockerREPL", None),
    "ipython": ("rlm.environments.ipython:IPythonREPL", "ipython"),
}


def environment_class(name: str) -> type[BaseEnv]:
    if not isinstance(name, str) or name not in REGISTRY:
        raise ConfigurationError(
            f"Unknown environment {name!r}. Registered environments: {', '.join(sorted(REGISTRY))}."
        )
    target, extra = REGISTRY[name]
    module_name, class_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if extra is None or (exc.name or "").startswith("rlm"):
            raise
        raise MissingDependencyError(f"environment {name!r}", extra, exc.name) from exc
    return getattr(module, class_name)


def get_environment(name: str, **kwargs: Any) -> BaseEnv:
    cls = environment_class(name)
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigurationError(f"environment {name!r}: bad environment_kwargs: {exc}") from exc


def __getattr__(attr: str) -> Any:
    # LocalREPL is public but imported lazily so `import rlm.environments` stays cheap.
    if attr == "LocalREPL":
        from rlm.environments.local import LocalREPL

        return LocalREPL
    raise AttributeError(attr)
