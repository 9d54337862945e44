"""Host objects as tools in out-of-process environments: the host side.

A custom tool that is neither callable nor JSON data (`custom_tools={"db": DB()}`) cannot
cross into a sandbox. Instead the worker gets a *descriptor* `{"__rlm_proxy__": handle,
"type": name, "methods": [...]}` and model code gets a proxy object (see `proxy_runtime`)
whose method calls come back here as the host call "proxy". Only the methods listed when the
object was exported can be called (its public methods, or the ones named with `expose`);
dunder and private names never are. Arguments and results are JSON values, or further
proxies: a result that is not JSON data is exported in turn. Nothing is pickled and no host
object ever leaves this process.
"""

from __future__ import annotations

import inspect
import threading
from typing import Any

from rlm.errors import BrokerError

PROXY_KEY = "__rlm_proxy__"
MAX_OBJECTS = 10_000  # exported objects per environment (each result object is one)


class Exposed:
    """`expose(obj, "get_row", ...)`: offer only these methods of `obj` to model code."""

    __slots__ = ("methods", "target")

    def __init__(self, target: Any, methods: tuple[str, ...]):
        bad = [m for m in methods if m.startswith("_") or not callable(getattr(target, m, None))]
        if bad:
            raise BrokerError(f"expose: {bad} are not public methods of {type(target).__name__}")
        self.target = target
        self.methods = tuple(methods)


def expose(target: Any, *methods: str) -> Exposed:
    return Exposed(target, methods)


def public_methods(obj: Any) -> list[str]:
    """Public methods of `obj` found without running any of its code (no properties)."""
    names = []
    for name in dir(type(obj)):
        if name.startswith("_"):
            continue
        try:
            attr = inspect.getattr_static(obj, name)
        except AttributeError:
            continue
        if isinstance(attr, (staticmethod, classmethod)) or inspect.isroutine(attr):
            names.append(name)
    return names


def is_json_data(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(is_json_data(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and is_json_data(v) for k, v in value.items())
    return False


class ProxyTable:
    """The objects one environment has exported, by handle, with their allowed methods."""

    def __init__(self, limit: int = MAX_OBJECTS):
        self.limit = limit
        self._objects: dict[int, tuple[Any, frozenset[str]]] = {}
        self._by_id: dict[int, int] = {}
        self._lock = threading.Lock()

    def export(self, obj: Any) -> dict[str, Any]:
        methods = obj.methods if isinstance(obj, Exposed) else None
        target = obj.target if isinstance(obj, Exposed) else obj
        allowed = frozenset(methods if methods is not None else public_methods(target))
        with self._lock:
            handle = self._by_id.get(id(target))
            if handle is None or self._objects[handle][1] != allowed:
                if len(self._objects) >= self.limit:
                    raise BrokerError(
                        f"more than {self.limit} host objects handed to the REPL; return "
                        "JSON data from tools instead of objects"
                    )
                handle = len(self._objects) + 1
                self._objects[handle] = (target, allowed)
                self._by_id[id(target)] = handle
        return {PROXY_KEY: handle, "type": type(target).__name__, "methods": sorted(allowed)}

    def wrap(self, value: Any) -> Any:
        """A value for the worker: JSON data as is, containers item by item, objects exported."""
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, (list, tuple)):
            return [self.wrap(v) for v in value]
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return {k: self.wrap(v) for k, v in value.items()}
        return self.export(value)

    def unwrap(self, value: Any) -> Any:
        """Arguments from the worker: descriptors of objects exported here become the objects."""
        if isinstance(value, dict):
            handle = value.get(PROXY_KEY)
            if isinstance(handle, int) and handle in self._objects:
                return self._objects[handle][0]
            return {k: self.unwrap(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.unwrap(v) for v in value]
        return value

    def call(self, handle: Any, method: Any, args: Any = None, kwargs: Any = None) -> Any:
        entry = self._objects.get(handle) if isinstance(handle, int) else None
        if entry is None:
            raise BrokerError(f"no host object with handle {handle!r}")
        target, allowed = entry
        if not isinstance(method, str) or method.startswith("_") or method not in allowed:
            raise BrokerError(
                f"{type(target).__name__}.{method} is not callable from the REPL; allowed: "
                f"{', '.join(sorted(allowed)) or 'none'}"
            )
        args = self.unwrap(list(args or []))
        kwargs = self.unwrap(dict(kwargs or {}))
        return self.wrap(getattr(target, method)(*args, **kwargs))
