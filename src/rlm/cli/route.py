"""`rlm run --route auto|plain`: let `SmartRouter` decide between one plain call and an RLM.

`auto`: a context that fits the model's window gets one plain call (answered here); a larger
one goes on to the normal RLM run. `plain`: always one call (a context that does not fit is
cut). The router's client is handed to the RLM, so a local model is loaded once.
"""

from __future__ import annotations

import json
from typing import IO, Any

from rich.console import Console

from rlm.cli.run import EXIT_FORCED

ROUTES = ("rlm", "auto", "plain")


def route_plain(
    route: str,
    query: str,
    prompt: Any,
    kwargs: dict[str, Any],
    out: IO[str],
    err_console: Console,
    *,
    json_output: bool,
    quiet: bool,
) -> int | None:
    """Answer with one plain call and return the exit code, or None: run the RLM (then
    `kwargs["backend"]` is already the router's client)."""
    from rlm.router import SmartRouter

    router = SmartRouter(kwargs["backend"], kwargs.get("backend_kwargs"))
    chars, tokens = router.measure(prompt, query)
    method = "baseline" if route == "plain" else router.choose(prompt, query)
    if not quiet:
        size = f"{tokens:,} tokens" if tokens is not None else f"{chars:,} characters"
        err_console.print(
            f"route: {'plain call' if method == 'baseline' else 'RLM'} (context {size}, "
            f"model window {router.context_window:,} tokens)",
            style="dim",
            highlight=False,
        )
    if method != "baseline":
        kwargs["backend"] = router.client
        return None
    try:
        result = router.run(query, prompt, force_method="baseline")
    finally:
        router.close()
    # The plain call is told to say NO_ANSWER when the context lacks it: that is no answer.
    empty = result.output.strip().upper() in ("", "NO_ANSWER")
    reason, code = ("empty", EXIT_FORCED) if empty else ("plain", 0)
    if json_output:
        out.write(
            json.dumps(
                {
                    "response": result.output,
                    "method": "plain",
                    "finish_reason": reason,
                    "exit_code": code,
                    "tokens": result.tokens_used,
                    "time": result.elapsed,
                    "error": None,
                },
                indent=2,
            )
            + "\n"
        )
    else:
        out.write(result.output.rstrip("\n") + "\n")
    out.flush()
    if not quiet:
        err_console.print(
            f"done: one plain call, {result.tokens_used:,} tokens, {result.elapsed:.1f}s",
            style="green",
            highlight=False,
        )
    if empty:
        err_console.print(
            f"warning: the plain call found no answer (finish reason: empty; exit code {code})",
            style="yellow",
            highlight=False,
        )
    return code
