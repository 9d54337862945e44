"""The `rlm` command: `rlm run`, `rlm chat`, `rlm view`, `rlm logs`, `rlm config`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from rlm.cli import config as cfg
from rlm.cli.options import JSONParam as _JSONParam
from rlm.errors import ConfigurationError, LogFormatError

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _err_console() -> Console:
    # markup off: file names and model text may contain [brackets].
    return Console(stderr=True, markup=False, highlight=False, soft_wrap=True)


def _out_console() -> Console:
    return Console(markup=False, highlight=False, soft_wrap=False)


def _die(message: str, code: int = 2) -> None:
    _err_console().print(f"error: {message}", style="red")
    sys.exit(code)


def _settings(**flags: Any) -> cfg.Settings:
    try:
        return cfg.load_settings(flags)
    except ConfigurationError as exc:
        _die(str(exc))
        raise  # unreachable; keeps type checkers happy


def _log_dir(settings: cfg.Settings) -> Path:
    return Path(settings.get("log_dir") or cfg.default_log_dir()).expanduser()


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="rlm", prog_name="rlm")
def main() -> None:
    """Recursive Language Models: ask questions over contexts far larger than a model window."""


@main.command(context_settings=CONTEXT_SETTINGS)
@click.argument("query")
@click.option(
    "-c",
    "--context",
    "contexts",
    multiple=True,
    metavar="PATH",
    help="File, directory, glob or - (stdin). Repeatable. JSON files are parsed.",
)
@click.option("-b", "--backend", help="Model backend (default: from API keys, else local).")
@click.option(
    "--backend-kwargs", type=_JSONParam(), default=None, help="JSON object for the backend client."
)
@click.option("-m", "--model", help="Root model name.")
@click.option("--sub-model", help="Model for sub-calls (llm_query / rlm_query).")
@click.option("-e", "--environment", help="REPL environment (e.g. local, sandbox).")
@click.option(
    "--max-depth", type=click.IntRange(min=0), help="Recursion depth (0 = plain LM call)."
)
@click.option(
    "--max-iterations", type=click.IntRange(min=1), help="Root iterations before a forced answer."
)
@click.option(
    "--max-budget",
    type=click.FloatRange(min=0, min_open=True),
    help="USD limit for the whole tree.",
)
@click.option("--max-timeout", type=click.FloatRange(min=0, min_open=True), help="Seconds limit.")
@click.option("--max-tokens", type=click.IntRange(min=1), help="Token limit (input + output).")
@click.option(
    "--max-errors", type=click.IntRange(min=1), help="Consecutive failing iterations allowed."
)
@click.option(
    "--log-dir", type=click.Path(file_okay=False), help="Where to write the trajectory log."
)
@click.option("--no-log", is_flag=True, help="Do not write a trajectory log.")
@click.option(
    "--json", "json_output", is_flag=True, help="Print response, usage, time and log path as JSON."
)
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr.")
@click.option(
    "--index",
    "index_path",
    type=click.Path(path_type=Path),
    help="Search index from `rlm index build` (the model searches it with es_search/es_get).",
)
@click.option(
    "--route",
    type=click.Choice(["rlm", "auto", "plain"]),
    default="rlm",
    show_default=True,
    help="auto: one plain call when the context fits the model's window, else an RLM.",
)
def run(
    query: str,
    contexts: tuple[str, ...],
    index_path: Path | None,
    backend_kwargs: dict[str, Any] | None,
    json_output: bool,
    quiet: bool,
    no_log: bool,
    route: str,
    **flags: Any,
) -> None:
    """Answer QUERY over the given context with a Recursive Language Model.

    \b
    Examples:
      rlm run "Which module handles retries?" -c src/
      rlm run "Summarise" -c report.txt --model gpt-5-mini --sub-model gpt-5-nano
      cat data.json | rlm run "How many users signed up in May?" -c -
    """
    from rlm.cli.run import RunOptions, execute, stdin_stream

    settings = _settings(**flags)
    options = RunOptions(
        query=query,
        contexts=list(contexts),
        backend_kwargs=backend_kwargs or {},
        json_output=json_output,
        quiet=quiet,
        no_log=no_log,
        index=index_path,
        route=route,
    )
    code = execute(options, settings, stdin_stream(), sys.stdout, _err_console())
    sys.exit(code)


@main.command(context_settings=CONTEXT_SETTINGS)
@click.option("-s", "--session", help="Session name: continue it, or start it (default: new).")
@click.option("--store", type=click.Path(dir_okay=False), help="Session database (SQLite).")
@click.option("-b", "--backend", help="Model backend (default: from API keys, else local).")
@click.option("--backend-kwargs", type=_JSONParam(), default=None, help="JSON for the client.")
@click.option("-m", "--model", help="Root model name.")
@click.option("-e", "--environment", help="REPL environment (default: sandbox).")
@click.option("--log-dir", type=click.Path(file_okay=False), help="Log root (turns go below).")
def chat(
    session: str | None, store: str | None, backend_kwargs: dict[str, Any] | None, **flags: Any
) -> None:
    """Chat with an agent that answers through the RLM loop; sessions can be resumed."""
    from rlm.cli.chat import run_chat

    code = run_chat(session, _settings(**flags), backend_kwargs or {}, store, sys.stdout,
                    _err_console())  # fmt: skip
    sys.exit(code)


@main.command(context_settings=CONTEXT_SETTINGS)
@click.argument("target", required=False, type=click.Path(path_type=Path))
@click.option(
    "-p", "--port", type=click.IntRange(0, 65535), help="Port (default 8765; 0 = any free port)."
)
@click.option("--no-browser", is_flag=True, help="Only print the URL.")
def view(target: Path | None, port: int | None, no_browser: bool) -> None:
    """Browse trajectory logs in a local web viewer (TARGET: a log directory or file)."""
    from rlm.cli.view import open_browser, open_server

    target = target or _log_dir(_settings())
    try:
        server, note = open_server(target, port)
    except (ConfigurationError, LogFormatError) as exc:
        _die(str(exc))
        return
    err = _err_console()
    if note:
        err.print(note, style="yellow")
    click.echo(f"rlm viewer: {server.url}  (serving {target}; Ctrl-C to stop)")
    sys.stdout.flush()
    if not no_browser:
        open_browser(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        err.print("stopped")
    finally:
        server.close()


@main.group(context_settings=CONTEXT_SETTINGS)
def logs() -> None:
    """List, show and locate trajectory logs."""


_log_dir_option = click.option(
    "--log-dir", type=click.Path(path_type=Path), help="Log directory (default: configured)."
)


@logs.command("path")
@_log_dir_option
def logs_path(log_dir: Path | None) -> None:
    """Print the log directory."""
    click.echo(str(log_dir or _log_dir(_settings())))


@logs.command("list")
@_log_dir_option
@click.option("-n", "--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--json", "json_output", is_flag=True, help="Run summaries as JSON.")
def logs_list(log_dir: Path | None, limit: int, json_output: bool) -> None:
    """List runs, newest first."""
    from rlm.cli.logs import list_lines, list_table
    from rlm.viewer.store import LogStore

    directory = log_dir or _log_dir(_settings())
    if not directory.exists():
        _die(f"the log directory {directory} does not exist (nothing logged yet?)")
    store = LogStore(directory)
    runs = store.runs()[:limit]
    err = _err_console()
    for why in store.errors.values():
        err.print(f"skipped {why}", style="yellow")
    if json_output:
        click.echo(json.dumps([r.summary() for r in runs], indent=2, default=str))
    elif not runs:
        err.print(f"no runs in {directory}")
    else:
        console = Console(highlight=False)
        if console.is_terminal:
            console.print(list_table(runs))
        else:  # pipes get one tab-separated line per run, easy to cut/grep
            for line in list_lines(runs):
                click.echo(line)


@logs.command("show")
@click.argument("run_ref", metavar="RUN")
@_log_dir_option
@click.option("--json", "json_output", is_flag=True, help="The whole run as JSON.")
def logs_show(run_ref: str, log_dir: Path | None, json_output: bool) -> None:
    """Show a run: RUN is an id from `rlm logs list`, a log file (FILE or FILE#N) or `latest`."""
    from rlm.cli.logs import render_run, resolve_run

    try:
        runs = resolve_run(log_dir or _log_dir(_settings()), run_ref)
    except LogFormatError as exc:
        _die(str(exc))
        return
    if json_output:
        click.echo(
            json.dumps(
                [r.to_dict() for r in runs] if len(runs) > 1 else runs[0].to_dict(),
                indent=2,
                default=str,
            )
        )
        return
    console = Console(highlight=False)
    for run_ in runs:
        render_run(run_, console)


@main.group(name="config", context_settings=CONTEXT_SETTINGS)
def config_group() -> None:
    """Show where settings come from."""


@config_group.command("path")
def config_path_cmd() -> None:
    """Print the config file location."""
    click.echo(str(cfg.config_path()))


@config_group.command("show")
def config_show() -> None:
    """Print the effective settings and where each comes from."""
    settings = _settings()
    click.echo(
        f"config file: {settings.config_path}"
        + ("" if settings.config_path and settings.config_path.exists() else " (absent)")
    )
    rows = cfg.describe(settings)
    for name, value, origin in rows:
        click.echo(f"{name} = {json.dumps(value)}  ({origin})")
    try:
        backend, why = cfg.pick_backend(settings)
        click.echo(f"backend in use: {backend} ({why})")
    except ConfigurationError as exc:
        click.echo(str(exc))
    click.echo(f"log dir: {_log_dir(settings)}")


# Subcommands that live in their own modules.
from rlm.cli.batch import batch as _batch  # noqa: E402
from rlm.cli.serve import serve as _serve  # noqa: E402

main.add_command(_batch)
main.add_command(_serve)
from rlm.cli.index import index_group  # noqa: E402

main.add_command(index_group)

from rlm.cli.code import code_command  # noqa: E402 - built from `run`
from rlm.cli.mcp import mcp_group  # noqa: E402

main.add_command(code_command(run))
main.add_command(mcp_group(run))

if __name__ == "__main__":  # pragma: no cover
    main()
