"""`rlm mcp serve` (the gateway over stdio or HTTP) and `rlm mcp audit` (print and verify)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from rlm.cli.code import no_cache_option, repo_option

# Limits `ask` runs under when the configuration sets none: a gateway must not run forever.
ASK_DEFAULTS = {"max_iterations": 12, "max_timeout": 600.0}
# `rlm run` options that do not apply to the server (the rest configure its `ask` tool).
_NOT_FOR_ASK = {"query", "contexts", "json_output", "quiet", "route"}


def _ask_runner(flags: dict[str, Any]):  # type: ignore[no-untyped-def]
    """A function (codebase, question) -> answer using the configured backend and limits."""
    from rlm.cli.main import _settings

    backend_kwargs = flags.pop("backend_kwargs") or {}
    no_log = flags.pop("no_log")
    settings = _settings(**flags)

    def run_ask(codebase: Any, question: str) -> str:
        from rlm.cli.config import default_log_dir
        from rlm.cli.run import build_rlm_kwargs
        from rlm.codebase import ask
        from rlm.logger import RLMLogger

        kwargs = {**ASK_DEFAULTS, **build_rlm_kwargs(settings, backend_kwargs)}
        if not no_log:
            log_dir = Path(settings.get("log_dir") or default_log_dir()).expanduser()
            kwargs["logger"] = RLMLogger(log_dir=log_dir)
        return ask(question, codebase, **kwargs).response

    return run_ask


def _serve(
    repo: Path,
    http: str | None,
    token: str | None,
    audit_log: Path | None,
    no_cache: bool,
    **flags: Any,
) -> None:
    """Serve REPO's code to MCP clients: stdio by default, streamable HTTP with --http.

    \b
    Tools: list_files, search_code, read_span, symbols, outline, ask.
    Examples:
      rlm mcp serve --repo .
      RLM_MCP_TOKEN=secret rlm mcp serve --repo . --http 0.0.0.0:8765
    """
    from rlm.cli.main import _die
    from rlm.codebase import Codebase
    from rlm.codebase.mcp import AuditLog, Gateway, default_audit_path, serve_http, serve_stdio
    from rlm.errors import RLMError

    token = token or os.environ.get("RLM_MCP_TOKEN") or None
    try:
        codebase = Codebase.open(repo, use_cache=not no_cache)
        audit = AuditLog(audit_log or default_audit_path())
        gateway = Gateway(codebase, audit, _ask_runner(flags))
        if http is None:
            serve_stdio(gateway)
            return
        host, _, port = http.rpartition(":")
        if not host or not port.isdigit():
            _die(f"--http wants HOST:PORT, e.g. 127.0.0.1:8765 (got {http!r})")
        serve_http(gateway, host, int(port), token)
    except RLMError as exc:
        _die(str(exc))
    except OSError as exc:
        _die(f"cannot serve: {exc}")


@click.command("audit")
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "json_output", is_flag=True, help="Print the records as JSON lines.")
@click.option("-q", "--quiet", is_flag=True, help="Only verify: print problems and the verdict.")
def audit(path: Path | None, json_output: bool, quiet: bool) -> None:
    """Print the provenance log and verify it (fields, hash chain). Exit 1 if it is broken."""
    from rlm.cli.main import _die, _err_console
    from rlm.codebase.mcp import default_audit_path, verify

    path = path or default_audit_path()
    if not path.exists():
        _die(f"no audit log at {path} (has the gateway served a call yet?)")
    result = verify(path)
    if not quiet:
        for entry in result.records:
            if json_output:
                click.echo(json.dumps(entry, ensure_ascii=False))
                continue
            args = json.dumps(entry.get("arguments", {}), ensure_ascii=False)
            status = "ok" if entry.get("ok") else f"error: {entry.get('error', '')}"
            click.echo(
                f"{entry.get('time')}  {entry.get('client')}  {entry.get('tool')} {args}  "
                f"{entry.get('bytes')} B  sha256:{str(entry.get('sha256'))[:12]}  "
                f"handles={len(entry.get('handles', []))}  {status}"
            )
    err = _err_console()
    for problem in result.problems:
        err.print(problem, style="red")
    verdict = "intact" if result.ok else f"BROKEN ({len(result.problems)} problem(s))"
    err.print(
        f"{len(result.records)} record(s); chain {verdict}", style="green" if result.ok else "red"
    )
    sys.exit(0 if result.ok else 1)


def mcp_group(run: click.Command) -> click.Group:
    """`rlm mcp` (serve, audit); `serve` takes `rlm run`'s options that configure `ask`.
    `run` is passed in by rlm.cli.main, which this module never imports at load time."""
    settings = run.context_settings
    serve = click.Command(
        "serve",
        callback=_serve,
        params=[p for p in run.params if p.name not in _NOT_FOR_ASK]
        + [
            repo_option("Repository to serve."),
            no_cache_option(),
            click.Option(
                ["--http"],
                metavar="HOST:PORT",
                help="Streamable HTTP instead of stdio (port 0: any).",
            ),
            click.Option(
                ["--token"],
                help="Bearer token HTTP clients must send (or RLM_MCP_TOKEN); required off "
                "loopback.",
            ),
            click.Option(
                ["--audit-log"],
                type=click.Path(dir_okay=False, path_type=Path),
                help="Provenance log (JSONL). Default: $XDG_STATE_HOME/rlm/mcp-audit.jsonl.",
            ),
        ],
        help=_serve.__doc__,
        context_settings=settings,
        short_help="Serve a repository over MCP.",
    )
    audit.context_settings = settings
    return click.Group(
        "mcp",
        commands=[serve, audit],
        context_settings=settings,
        help="Serve a repository to IDE agents over MCP (bounded, audited tools).",
    )
