"""`rlm serve`: an RLM behind an OpenAI-compatible HTTP API (uvicorn + Starlette)."""

from __future__ import annotations

import ipaddress
import sys
from typing import Any

import click
from rich.console import Console

from rlm.cli.options import rlm_flags, rlm_kwargs_from_flags
from rlm.errors import ConfigurationError, MissingDependencyError


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("-p", "--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--api-key", envvar="RLM_SERVE_API_KEY",
              help="Bearer token clients must send ($RLM_SERVE_API_KEY). Required unless the "
              "host is loopback.")  # fmt: skip
@click.option("--max-concurrent", type=click.IntRange(min=1), default=4, show_default=True,
              help="Runs at once; more get 429 with Retry-After.")  # fmt: skip
@click.option("--model-name", default="rlm", show_default=True, help="Name in /v1/models.")
@rlm_flags
def serve(host: str, port: int, api_key: str | None, max_concurrent: int, model_name: str,
          **flags: Any) -> None:  # fmt: skip
    """Serve an RLM as an OpenAI-compatible model (/v1/chat/completions, /v1/models).

    \b
    The request's messages are the REPL's context; the last user message is the query.
    Per request, an "rlm" object may tighten limits: {"max_iterations": 5, "max_budget": 0.1}.
    \b
    Examples:
      rlm serve --model gpt-5-mini --max-budget 1.0
      rlm serve --host 0.0.0.0 --api-key "$KEY" --max-concurrent 8
    """
    err = Console(stderr=True, markup=False, highlight=False)
    if api_key is None and not is_loopback(host):
        err.print(f"error: binding {host} (not loopback) needs --api-key (or "
                  "$RLM_SERVE_API_KEY), so strangers cannot spend your model budget", style="red")  # fmt: skip
        sys.exit(2)
    try:
        import uvicorn

        from rlm.serve import ServeConfig, create_app
    except ModuleNotFoundError as exc:
        err.print(f"error: {MissingDependencyError('rlm serve', 'serve', exc.name)}", style="red")
        sys.exit(2)
    try:
        rlm_kwargs, log_dir = rlm_kwargs_from_flags(flags)
        app = create_app(ServeConfig(rlm_kwargs=rlm_kwargs, model_name=model_name,
                                     api_key=api_key, max_concurrent=max_concurrent,
                                     log_dir=log_dir))  # fmt: skip
    except ConfigurationError as exc:
        err.print(f"error: {exc}", style="red")
        sys.exit(2)
    err.print(f"rlm serve: http://{host}:{port}/v1  model {model_name!r}, "
              f"{max_concurrent} concurrent run(s), auth {'on' if api_key else 'off'}")  # fmt: skip
    uvicorn.run(app, host=host, port=port, log_level="warning")
