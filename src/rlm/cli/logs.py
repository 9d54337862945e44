"""`rlm logs list | show RUN | path`: find and read trajectory logs from the terminal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from rlm._bounded import preview
from rlm._terminal import terminal_safe
from rlm.errors import LogFormatError
from rlm.viewer.store import LogStore, Run, iteration_totals, read_log


def resolve_run(log_dir: Path, ref: str) -> list[Run]:
    """RUN is a file path (all its runs, or `FILE#N`), a run id from `rlm logs list`, or
    `latest`. Raises `LogFormatError` when nothing matches or the file is not a log."""
    path_part, _, index = ref.partition("#")
    path = Path(path_part).expanduser()
    if path.is_file():
        runs = read_log(path)
        if index:
            if not index.isdigit() or not 1 <= int(index) <= len(runs):
                raise LogFormatError(f"{path} holds {len(runs)} run(s); #{index} is not one")
            return [runs[int(index) - 1]]
        return runs
    if not log_dir.exists():
        raise LogFormatError(f"no such log file, and the log directory {log_dir} does not exist")
    store = LogStore(log_dir)
    runs = store.runs()
    if ref == "latest":
        if not runs:
            raise LogFormatError(f"no runs in {log_dir}")
        return [runs[0]]
    found = [r for r in runs if r.id == ref or r.id.startswith(ref + "#")]
    if not found:
        found = [r for r in runs if ref in r.id]
    if not found:
        raise LogFormatError(f"no run {ref!r} in {log_dir}; see `rlm logs list`")
    return found


# Finish reasons meaning the model did not give the answer as final (rlm.core.answers).
FORCED_REASONS = frozenset({"max_iterations", "loop", "limit", "empty", "unverified"})


def _row(run: Run) -> list[str]:
    s = run.summary()
    tokens = s["input_tokens"] + s["output_tokens"]
    return [
        s["id"],
        str(s["timestamp"] or "")[:19].replace("T", " "),
        str(s["root_model"] or ""),
        str(s["iterations"]),
        str(s.get("finish_reason") or "-"),
        f"{tokens:,}" if tokens else "-",
        f"${s['cost']:.4f}" if s["cost"] else "-",
        _text(" ".join((s["prompt"] or "").split())[:80]),
    ]


def list_lines(runs: list[Run]) -> list[str]:
    return ["\t".join(_row(run)) for run in runs]


def list_table(runs: list[Run]) -> Table:
    table = Table(show_lines=False, header_style="bold")
    table.add_column("run", no_wrap=True)  # ids are what `rlm logs show` takes: never cut them
    for col in ("started", "model", "iters", "ended", "tokens", "cost", "prompt"):
        table.add_column(col, overflow="fold")
    for run in runs:
        table.add_row(*_row(run))
    return table


def _text(value: Any) -> str:
    """A logged value for the terminal: logs hold model text, shown plain and without
    control characters."""
    text = value if isinstance(value, str) else json.dumps(value, indent=2, default=str)
    return terminal_safe(text)


def render_run(run: Run, console: Console) -> None:
    s = run.summary()
    head = Text()
    head.append(f"{s['id']}\n", style="bold")
    head.append(f"model {s['root_model']} · {s['iterations']} iteration(s) · ")
    head.append(f"{s['subcalls']} sub-call(s) · {s['input_tokens'] + s['output_tokens']:,} tokens")
    if s["cost"]:
        head.append(f" · ${s['cost']:.4f}")
    head.append(f" · {s['time']:.1f}s\n")
    head.append(f"prompt: {_text(s['prompt'] or '(not logged)')}")
    if s.get("finish_reason"):
        head.append(f"\nfinish reason: {s['finish_reason']}")
    console.print(Panel(head, title="run", expand=True))
    for warning in run.warnings:
        console.print(f"warning: {_text(warning)}", style="yellow", markup=False)
    _render_iterations(run.iterations, console, indent=0)
    if s["error"]:
        console.print(f"error: {_text(s['error'])}", style="red", markup=False)
    forced = s.get("finish_reason") in FORCED_REASONS
    title = f"final answer ({s['finish_reason']}: forced)" if forced else "final answer"
    console.print(
        Panel(
            Text(_text(s["final_answer"] or "(none)")),
            title=title,
            style="yellow" if forced else "green",
        )
    )


def _render_iterations(iterations: list[dict[str, Any]], console: Console, indent: int) -> None:
    pad = "  " * indent
    for number, it in enumerate(iterations, start=1):
        totals = iteration_totals(it)
        console.print(
            f"{pad}── iteration {it.get('iteration', number)} · {it.get('iteration_time') or 0:.1f}s"
            f" · {int(totals['input_tokens'] + totals['output_tokens']):,} tokens"
            f" · {int(totals['subcalls'])} sub-call(s)",
            style="bold magenta",
        )
        for block in it.get("code_blocks") or []:
            result = block.get("result") or {}
            code = _text(block.get("code", ""))
            parts: list[Any] = [Syntax(code, "python", theme="ansi_dark")]
            if result.get("stdout"):
                parts.append(Text(_text(result["stdout"]).rstrip()))
            if result.get("stderr"):
                parts.append(Text(_text(result["stderr"]).rstrip(), style="red"))
            console.print(Panel(Group(*parts), title=f"{pad}code", title_align="left"))
            for call in result.get("rlm_calls") or []:
                console.print(
                    f"{pad}  ↳ sub-call {call.get('root_model', '')}: "
                    f"{_short(call.get('prompt'))} → {_short(call.get('response'))}",
                    style="cyan",
                    markup=False,
                    highlight=False,
                )
                child = call.get("metadata")
                if isinstance(child, dict) and isinstance(child.get("iterations"), list):
                    console.print(f"{pad}    child RLM trajectory:", style="cyan")
                    _render_iterations(child["iterations"], console, indent + 2)
        if it.get("final_answer") is not None:
            console.print(
                f"{pad}  FINAL: {_text(it['final_answer'])}",
                style="green",
                markup=False,
                highlight=False,
            )


def _short(value: Any, limit: int = 100) -> str:
    return preview(_text(value), limit, one_line=True)
