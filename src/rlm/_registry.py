"""Name -> "module:Class" registries (backends, environments): one lookup, one error shape."""

from __future__ import annotations

import importlib
from typing import Any

from rlm.errors import ConfigurationError, MissingDependencyError

# name -> ("module:Class", extra that provides its dependencies or None)
Registry = dict[str, tuple[str, str | None]]


def load(registry: Registry, name: Any, kind: str, hint: str = "") -> Any:
    """The class registered as `name`; unknown names list the registry, a missing optional
    dependency names the extra to install."""
    if not isinstance(name, str) or name not in registry:
        raise ConfigurationError(
            f"Unknown {kind} {name!r}. Registered {kind}s: {', '.join(sorted(registry))}{hint}."
        )
    target, extra = registry[name]
    module_name, class_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if extra is None or (exc.name or "").startswith("rlm"):
            raise
        raise MissingDependencyError(f"{kind} {name!r}", extra, exc.name) from exc
    return getattr(module, class_name)
