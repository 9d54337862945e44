"""`rlm run`: load the context, build an RLM from the merged settings, print the answer."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from rich.console import Console

from rlm._terminal import terminal_safe
from rlm.cli.config import Settings, default_log_dir, pick_backend
from rlm.cli.context import load_context
from rlm.cli.progress import Progress
from rlm.errors import CancellationError, ConfigurationError, LimitExceededError, RLMError

# Exit codes: documented in docs/cli.md. EXIT_FORCED: an answer was printed, but the model did
# not give it as final (out of iterations, a loop, or no answer at all), or gave it unverified
# (no code ran and no line it was shown says it): do not trust it blindly.
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LIMIT, EXIT_FORCED, EXIT_CANCELLED = 0, 1, 2, 3, 4, 130
FORCED_WHY = {
    "max_iterations": "the model ran out of iterations; this answer was forced",
    "loop": "the run was stopped because the model repeated itself; this is its best answer so far",
    "empty": "the run ended without an answer",
    "limit": "a sub-call budget ran out; this answer was forced",
    "unverified": "neither the lines the model was shown nor anything its code printed "
    "says this answer; check it",
}


@dataclass
class RunOptions:
    query: str
    contexts: list[str]
    backend_kwargs: dict[str, Any]  # from --backend-kwargs (merged over the settings')
    json_output: bool
    quiet: bool
    no_log: bool
    index: Path | None = None  # --index: an embedded search index (rlm index build)
    route: str = "rlm"  # "auto" / "plain": see rlm.cli.route
    # Set by commands built on `run` (e.g. `rlm code`): a ready context and extra RLM keywords.
    prepared_context: Any = None
    rlm_kwargs: dict[str, Any] = field(default_factory=dict)


def _usage_of(rlm: Any) -> tuple[int, float | None]:
    """Running tokens/cost over every client the RLM built (shared clients counted once)."""
    router = getattr(rlm, "router", None)
    clients = {id(c): c for c in getattr(router, "clients", [])}.values()
    tokens, cost = 0, None
    for client in clients:
        summary = client.get_usage_summary()
        tokens += summary.total_tokens
        if summary.total_cost is not None:
            cost = (cost or 0.0) + summary.total_cost
    return tokens, cost


def build_rlm_kwargs(settings: Settings, extra_backend_kwargs: dict[str, Any]) -> dict[str, Any]:
    backend, _why = pick_backend(settings)
    backend_kwargs = {**settings.get("backend_kwargs", {}), **extra_backend_kwargs}
    if settings.get("model"):
        backend_kwargs["model_name"] = settings.get("model")
    kwargs: dict[str, Any] = {"backend": backend, "backend_kwargs": backend_kwargs}
    if settings.get("sub_model"):
        sub_kwargs = {**backend_kwargs, "model_name": settings.get("sub_model")}
        kwargs["other_backends"] = [backend]
        kwargs["other_backend_kwargs"] = [sub_kwargs]
    if settings.get("environment"):
        kwargs["environment"] = settings.get("environment")
    if settings.get("environment_kwargs"):
        kwargs["environment_kwargs"] = settings.get("environment_kwargs")
    for name in (
        "max_depth",
        "max_iterations",
        "max_budget",
        "max_timeout",
        "max_tokens",
        "max_errors",
    ):
        if settings.get(name) is not None:
            kwargs[name] = settings.get(name)
    return kwargs


def execute(
    options: RunOptions,
    settings: Settings,
    stdin: IO[bytes] | IO[str],
    out: IO[str],
    err_console: Console,
) -> int:
    """Run one completion; return the process exit code. Every failure is reported on stderr
    (or as JSON with --json) and nothing is written before the input has been validated."""
    if not options.query.strip():
        return _fail(options, err_console, out, "error: the query is empty", EXIT_USAGE)
    try:
        loaded = load_context(options.contexts, stdin) if options.contexts else None
        kwargs = build_rlm_kwargs(settings, options.backend_kwargs)
        if options.index is not None:
            kwargs["retriever"] = _open_index(options.index)
    except ConfigurationError as exc:
        return _fail(options, err_console, out, f"error: {exc}", EXIT_USAGE)

    if loaded is not None and not options.quiet:
        for path, why in loaded.skipped:
            err_console.print(f"skipped {path}: {why}", style="yellow", highlight=False)
        for note in loaded.notes:
            err_console.print(f"note: {note}", style="dim", highlight=False)
        err_console.print(
            f"context: {len(loaded.documents)} document(s), {loaded.chars:,} characters",
            style="dim",
            highlight=False,
        )

    from rlm import RLM
    from rlm.logger import RLMLogger

    logger = None
    if not options.no_log:
        log_dir = Path(settings.get("log_dir") or default_log_dir()).expanduser()
        try:
            logger = RLMLogger(log_dir=log_dir)
        except OSError as exc:
            return _fail(
                options,
                err_console,
                out,
                f"error: cannot create the log directory {log_dir}: {exc}; "
                "pass --log-dir or --no-log",
                EXIT_USAGE,
            )

    if options.route != "rlm" and options.index is None:  # an index needs the REPL to search
        from rlm.cli.route import route_plain

        prompt = loaded.value if loaded is not None else options.query
        try:
            code = route_plain(options.route, options.query, prompt, kwargs, out, err_console,
                               json_output=options.json_output, quiet=options.quiet)  # fmt: skip
        except RLMError as exc:
            return _fail(options, err_console, out, f"error: {exc}", EXIT_FAILED)
        if code is not None:
            return code

    progress = Progress(err_console, enabled=not options.quiet)
    try:
        rlm = RLM(**kwargs, **options.rlm_kwargs, logger=logger, **progress.callbacks())
    except RLMError as exc:
        return _fail(options, err_console, out, f"error: {exc}", EXIT_USAGE)
    progress.usage = lambda: _usage_of(rlm)

    prompt = loaded.value if loaded is not None else options.query
    if options.prepared_context is not None:
        prompt = options.prepared_context
    log_path = None
    try:
        with progress:
            result = rlm.completion(prompt, root_prompt=options.query)
    except LimitExceededError as exc:
        log_path = getattr(logger, "log_file_path", None)
        return _fail(
            options,
            err_console,
            out,
            f"stopped: {exc}",
            EXIT_LIMIT,
            partial=exc.partial_answer,
            log_path=log_path,
        )
    except CancellationError as exc:
        log_path = getattr(logger, "log_file_path", None)
        return _fail(
            options,
            err_console,
            out,
            "cancelled",
            EXIT_CANCELLED,
            partial=exc.partial_answer,
            log_path=log_path,
        )
    except RLMError as exc:
        log_path = getattr(logger, "log_file_path", None)
        return _fail(options, err_console, out, f"error: {exc}", EXIT_FAILED, log_path=log_path)
    finally:
        rlm.close()

    log_path = getattr(logger, "log_file_path", None)
    code = EXIT_FORCED if result.answer_forced else EXIT_OK
    if options.json_output:
        out.write(
            json.dumps(
                {
                    "response": result.response,
                    "finish_reason": result.finish_reason,
                    "exit_code": code,
                    "usage": result.usage_summary.to_dict(),
                    "time": result.execution_time,
                    "log_path": log_path,
                    "error": result.error,
                },
                indent=2,
                default=str,
            )
            + "\n"
        )
    else:
        out.write(terminal_safe(result.response).rstrip("\n") + "\n")
    out.flush()
    if code == EXIT_FORCED:  # said even with --quiet: the answer must not pass as a real one
        why = FORCED_WHY.get(result.finish_reason or "", f"finish reason {result.finish_reason}")
        err_console.print(
            f"warning: {why} (finish reason: {result.finish_reason}; exit code {code})",
            style="yellow",
            highlight=False,
            markup=False,
        )
    if not options.quiet:
        err_console.print("done: " + progress.summary_line(), style="green", highlight=False)
        if log_path:
            err_console.print(
                f"log: {log_path}  (rlm view to browse)", style="dim", highlight=False
            )
    return code


FAIL_REASONS = {EXIT_LIMIT: "limit", EXIT_CANCELLED: "limit"}


def _open_index(path: Path) -> Any:
    from rlm.retrieval.protocol import RetrievalError

    try:
        from rlm.retrieval.local_index import LocalIndex

        return LocalIndex(path, create=False)
    except RetrievalError as exc:
        raise ConfigurationError(str(exc)) from exc


def _fail(
    options: RunOptions,
    err_console: Console,
    out: IO[str],
    message: str,
    code: int,
    partial: str | None = None,
    log_path: str | None = None,
) -> int:
    err_console.print(terminal_safe(message), style="red", highlight=False, markup=False)
    if partial:
        err_console.print("partial answer (on stdout)", style="yellow", highlight=False)
    if log_path:
        err_console.print(f"log: {log_path}", style="dim", highlight=False)
    if options.json_output:
        out.write(
            json.dumps(
                {
                    "response": partial,
                    "finish_reason": FAIL_REASONS.get(code),
                    "error": message,
                    "exit_code": code,
                    "log_path": log_path,
                },
                indent=2,
            )
            + "\n"
        )
    elif partial:
        out.write(terminal_safe(partial).rstrip("\n") + "\n")
    out.flush()
    return code


def stdin_stream() -> IO[bytes] | IO[str]:
    return getattr(sys.stdin, "buffer", sys.stdin)
