"""REPL environments. A name -> "module:Class" registry; `get_environment` builds one.

Adding an environment is one file in this folder plus one line in `REGISTRY`; an installed
package can add one through the `rlm.environments` entry point group.
"""

from __future__ import annotations

from typing import Any

from rlm._registry import Registry, load
from rlm.environments.base import RESERVED_NAMES, BaseEnv, Host, ToolSpec
from rlm.errors import ConfigurationError

__all__ = [
    "REGISTRY",
    "RESERVED_NAMES",
    "BaseEnv",
    "Host",
    "LocalREPL",
    "ToolSpec",
    "get_environment",
]

PLUGIN_GROUP = "rlm.environments"

# name -> ("module:Class", extra that provides its dependencies or None)
REGISTRY: Registry = {
    "local": ("rlm.environments.local:LocalREPL", None),
    "sandbox": ("rlm.environments.sandbox:SandboxREPL", None),
    "docker": ("rlm.environments.docker:DockerREPL", None),
    "ipython": ("rlm.environments.ipython:IPythonREPL", "ipython"),
}


def environment_class(name: str) -> type[BaseEnv]:
    return load(REGISTRY, name, "environment", group=PLUGIN_GROUP)


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
