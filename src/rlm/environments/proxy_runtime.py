"""Host objects as tools in out-of-process environments: the model's side. Standard library
only (shipped into the sandbox worker as `_rlm_proxy_runtime`).

`revive(value, call_host)` turns every `{"__rlm_proxy__": ...}` descriptor in a value from
the host into a `HostProxy`. A proxy offers exactly the methods the host listed; a call sends
the host call "proxy" and revives its result. Private and dunder names raise AttributeError:
there is nothing behind the proxy to reach, only a handle number.
"""

from __future__ import annotations

from typing import Any

PROXY_KEY = "__rlm_proxy__"


class HostProxy:
    __slots__ = ("_call_host", "_handle", "_methods", "_type")

    def __init__(self, descriptor: dict[str, Any], call_host: Any):
        object.__setattr__(self, "_handle", descriptor[PROXY_KEY])
        object.__setattr__(self, "_type", str(descriptor.get("type", "object")))
        object.__setattr__(self, "_methods", tuple(descriptor.get("methods") or ()))
        object.__setattr__(self, "_call_host", call_host)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in self._methods:
            raise AttributeError(
                f"host object {self._type} offers only: {', '.join(self._methods) or 'nothing'}"
            )

        def method(*args: Any, **kwargs: Any) -> Any:
            payload = {"handle": self._handle, "method": name, "args": encode(list(args)),
                       "kwargs": encode(kwargs)}  # fmt: skip
            return revive(self._call_host("proxy", payload), self._call_host)

        method.__name__ = name
        return method

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"host object {self._type} is read-only from the REPL")

    def __dir__(self) -> list[str]:
        return list(self._methods)

    def __repr__(self) -> str:
        return f"<host {self._type} (methods: {', '.join(self._methods)})>"


def encode(value: Any) -> Any:
    """Arguments for the host: proxies travel as their handle, everything else as is."""
    if isinstance(value, HostProxy):
        return {PROXY_KEY: object.__getattribute__(value, "_handle")}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    return value


def revive(value: Any, call_host: Any) -> Any:
    if isinstance(value, dict):
        if PROXY_KEY in value:
            return HostProxy(value, call_host)
        return {k: revive(v, call_host) for k, v in value.items()}
    if isinstance(value, list):
        return [revive(v, call_host) for v in value]
    return value
