"""Flags shared by the commands that build RLMs from settings (`rlm batch`, `rlm serve`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click


class JSONParam(click.ParamType):
    """A flag whose value is a JSON object."""

    name = "JSON"

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if isinstance(value, dict):
            return value
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as exc:
            self.fail(f"not valid JSON ({exc.msg} at column {exc.colno})", param, ctx)
        if not isinstance(parsed, dict):
            self.fail('expected a JSON object, e.g. \'{"model_name": "gpt-5-mini"}\'', param, ctx)
        return parsed


_RLM_FLAGS: list[Callable[[Any], Any]] = [
    click.option("-b", "--backend", help="Model backend (default: from API keys, else local)."),
    click.option(
        "--backend-kwargs",
        type=JSONParam(),
        default=None,
        help="JSON object for the backend client.",
    ),
    click.option("-m", "--model", help="Root model name."),
    click.option("--sub-model", help="Model for sub-calls (llm_query / rlm_query)."),
    click.option("-e", "--environment", help="REPL environment (e.g. local, sandbox)."),
    click.option(
        "--environment-kwargs",
        type=JSONParam(),
        default=None,
        help="JSON object for the environment.",
    ),
    click.option("--max-depth", type=click.IntRange(min=0), help="Recursion depth."),
    click.option("--max-iterations", type=click.IntRange(min=1), help="Root iterations."),
    click.option(
        "--max-budget", type=click.FloatRange(min=0, min_open=True), help="USD limit per run."
    ),
    click.option(
        "--max-timeout", type=click.FloatRange(min=0, min_open=True), help="Seconds limit per run."
    ),
    click.option("--max-tokens", type=click.IntRange(min=1), help="Token limit per run."),
    click.option(
        "--max-errors", type=click.IntRange(min=1), help="Consecutive failing iterations allowed."
    ),
    click.option(
        "--log-dir", type=click.Path(file_okay=False), help="Where to write trajectory logs."
    ),
    click.option("--no-log", is_flag=True, help="Do not write trajectory logs."),
]


def rlm_flags(command: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a command with the RLM settings flags (same names as `rlm run`)."""
    for flag in reversed(_RLM_FLAGS):
        command = flag(command)
    return command


def rlm_kwargs_from_flags(flags: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """(RLM keyword arguments, log directory or None) from the flags, merged over the config
    file and `RLM_*` variables. Raises ConfigurationError with what to fix."""
    from rlm.cli.config import default_log_dir, load_settings
    from rlm.cli.run import build_rlm_kwargs

    flags = dict(flags)
    backend_kwargs = flags.pop("backend_kwargs", None) or {}
    no_log = flags.pop("no_log", False)
    settings = load_settings(flags)
    kwargs = build_rlm_kwargs(settings, backend_kwargs)
    log_dir = None if no_log else str(settings.get("log_dir") or default_log_dir())
    return kwargs, log_dir
