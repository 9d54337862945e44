"""REPL environments. A name -> "module:Class" registry; `get_environment` builds one.

Adding an environment is one file in this folder plus one line in `REGISTRY`; an installed
package can add one through the `rlm.environments` entry point group.
"""

from __future__ import annotations

import inspect
from typing import Any

from rlm._registry import Registry, load
from rlm.environments.base import RESERVED_NAMES, BaseEnv, Host, ToolSpec
from rlm.errors import ConfigurationError

__all__ = [
    "RESERVED_NAMES",
    "BaseEnv",
    "Host",
    "LocalREPL",
    "ToolSpec",
    "accepted_keywords",
    "get_environment",
]

PLUGIN_GROUP = "rlm.environments"

# name -> ("module:Class", extra that provides its dependencies or None)
REGISTRY: Registry = {
    "local": ("rlm.environments.local:LocalREPL", None),
    "sandbox": ("rlm.environments.sandbox:SandboxREPL", None),
    "docker": ("rlm.environments.docker:DockerREPL", None),
    "ipython": ("rlm.environments.ipython:IPythonREPL", "ipython"),
    "e2b": ("rlm.environments.e2b:E2BREPL", "e2b"),
    "modal": ("rlm.environments.modal:ModalREPL", "modal"),
    "daytona": ("rlm.environments.daytona:DaytonaREPL", "daytona"),
    "prime": ("rlm.environments.prime:PrimeREPL", "prime"),
    "monty": ("rlm.environments.monty:MontyREPL", "monty"),
}


# Provider environments whose SDK may be missing: name -> the extra that brings them (the
# reference's message shape for a missing one, also when persistent=True is asked for).
PLANNED: dict[str, str] = {"modal": "modal", "prime": "prime", "daytona": "daytona", "e2b": "e2b"}


def environment_class(name: str, *, persistent: bool = False) -> type[BaseEnv]:
    try:
        return load(REGISTRY, name, "environment", group=PLUGIN_GROUP)
    except ConfigurationError:
        if not (isinstance(name, str) and name in PLANNED):
            raise
    extra = PLANNED[name]
    what = (
        f"persistent=True is not supported for environment type {name!r} here"
        if persistent
        else f"Environment {name!r} is not installed"
    )
    raise ConfigurationError(
        f"{what}: it comes with the extra rlm[{extra}] (pip install 'rlm[{extra}]'). "
        f"Supported now: {sorted(REGISTRY)}."
    )


def accepted_keywords(cls: type[BaseEnv]) -> set[str]:
    """The keyword arguments `cls(...)` takes: named parameters of each __init__ along the MRO
    until one that does not forward **kwargs."""
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        names.update(p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break
    names.discard("self")
    return names


def check_keywords(name: str, cls: type[BaseEnv], kwargs: dict[str, Any], engine: set[str]) -> None:
    """Unknown environment keywords fail with the list of accepted ones (never ignored)."""
    accepted = accepted_keywords(cls) - engine
    unknown = sorted(set(kwargs) - accepted)
    if unknown:
        raise ConfigurationError(
            f"environment {name!r} does not accept {', '.join(unknown)}; accepted "
            f"environment_kwargs: {', '.join(sorted(accepted))}"
        )


def get_environment(
    name: str, environment_kwargs: dict[str, Any] | None = None, /, **kwargs: Any
) -> BaseEnv:
    """Build environment `name`. Keywords may come as a dict (the reference's form,
    `get_environment("local", {...})`) or as keyword arguments."""
    cls = environment_class(name)
    kwargs = {**(environment_kwargs or {}), **kwargs}
    check_keywords(name, cls, kwargs, set())
    return cls(**kwargs)


def __getattr__(attr: str) -> Any:
    # LocalREPL is public but imported lazily so `import rlm.environments` stays cheap.
    if attr == "LocalREPL":
        from rlm.environments.local import LocalREPL

        return LocalREPL
    raise AttributeError(attr)
