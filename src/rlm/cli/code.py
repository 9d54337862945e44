"""`rlm code "question" --repo PATH`: `rlm run` over an indexed repository.

The options are `rlm run`'s (backend, model, limits, logging), so both commands stay in step;
the context is the codebase summary and the model reads code through the helpers.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

# `rlm run` options that do not apply: the context is the repository, and the run is always
# an RLM (a plain call over the summary could not read the code).
_NOT_FOR_CODE = {"contexts", "route"}


def repo_option(help_text: str) -> click.Option:
    return click.Option(
        ["--repo"],
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        default=".",
        show_default=True,
        help=help_text,
    )


def no_cache_option() -> click.Option:
    return click.Option(
        ["--no-cache"], is_flag=True, help="Index from scratch; do not read or write the cache."
    )


def _code(query: str, repo: Path, no_cache: bool, **flags: Any) -> None:
    """Answer QUERY about a code repository; the answer cites path:line spans.

    \b
    Examples:
      rlm code "Where are retries configured?" --repo .
      rlm code "What calls parse_args?" --repo ~/src/app -b openai -m gpt-5-mini
    """
    from rlm.cli.main import _die, _err_console, _settings
    from rlm.cli.run import RunOptions, execute, stdin_stream
    from rlm.codebase import CODE_SYSTEM_PROMPT, Codebase, CodebaseError, codebase_tools

    json_output, quiet, no_log = flags.pop("json_output"), flags.pop("quiet"), flags.pop("no_log")
    backend_kwargs = flags.pop("backend_kwargs")
    flags.pop("contexts", None)
    settings = _settings(**flags)
    err = _err_console()
    try:
        codebase = Codebase.open(repo, use_cache=not no_cache)
    except CodebaseError as exc:
        _die(str(exc))
        return
    if not quiet:
        summary = codebase.summary()
        err.print(
            f"repository: {summary['file_count']:,} files, {summary['total_lines']:,} lines",
            style="dim",
        )
    options = RunOptions(
        query=query,
        contexts=[],
        backend_kwargs=backend_kwargs or {},
        json_output=json_output,
        quiet=quiet,
        no_log=no_log,
        prepared_context=codebase.summary(),
        rlm_kwargs={
            "custom_tools": codebase_tools(codebase),
            "custom_system_prompt": CODE_SYSTEM_PROMPT,
        },
    )
    sys.exit(execute(options, settings, stdin_stream(), sys.stdout, err))


def code_command(run: click.Command) -> click.Command:
    """`rlm code` with `rlm run`'s own options (minus its context flag), so flags and settings
    mean the same thing. `run` is passed in by rlm.cli.main, which this module never imports at
    load time (the arrow points one way)."""
    return click.Command(
        "code",
        callback=_code,
        params=[p for p in run.params if p.name not in _NOT_FOR_CODE]
        + [repo_option("Repository to index and ask about."), no_cache_option()],
        help=_code.__doc__,
        context_settings=run.context_settings,
        short_help="Answer a question about a code repository.",
    )
