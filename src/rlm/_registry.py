"""Name -> "module:Class" registries (backends, environments): one lookup, one error shape.

Installed packages can add names through entry points, as simonw/llm's plugins do:

    [project.entry-points."rlm.backends"]
    mymodel = "my_package.client:MyLM"

Built-in names win over plugins of the same name.
"""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import entry_points
from typing import Any

from rlm.errors import ConfigurationError, MissingDependencyError

log = logging.getLogger("rlm")

# name -> ("module:Class", extra that provides its dependencies or None)
Registry = dict[str, tuple[str, str | None]]


def plugins(group: str) -> Registry:
    """What installed distributions register in entry point `group` (read on each call, so a
    plugin installed mid-session is found)."""
    found: Registry = {}
    for ep in entry_points(group=group):
        if ":" not in ep.value:
            log.warning(
                "ignoring entry point %s = %r in %s: not 'module:Class'", ep.name, ep.value, group
            )
            continue
        found.setdefault(ep.name, (ep.value, None))
    return found


def names(registry: Registry, group: str | None) -> list[str]:
    """Every name that `load` accepts: built-ins and plugins."""
    return sorted({*registry, *(plugins(group) if group else {})})


def load(registry: Registry, name: Any, kind: str, hint: str = "", group: str | None = None) -> Any:
    """The class registered as `name` (built in, or by a plugin in entry point `group`);
    unknown names list every name, a missing optional dependency names the extra."""
    entry = registry.get(name) if isinstance(name, str) else None
    if entry is None and isinstance(name, str) and group is not None:
        entry = plugins(group).get(name)
    if entry is None:
        raise ConfigurationError(
            f"Unknown {kind} {name!r}. Registered {kind}s: "
            f"{', '.join(names(registry, group))}{hint}."
        )
    target, extra = entry
    module_name, class_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if extra is None or (exc.name or "").startswith("rlm"):
            raise
        raise MissingDependencyError(f"{kind} {name!r}", extra, exc.name) from exc
    try:
        return getattr(module, class_name)
    except AttributeError as exc:
        raise ConfigurationError(f"{kind} {name!r}: {module_name} has no {class_name!r}") from exc
