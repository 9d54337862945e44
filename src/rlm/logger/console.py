"""`verbose=True`: a rich view of the run on stderr (responses, code, output, final answer)."""

from __future__ import annotations

import threading

from rich.console import Console
from rich.panel import Panel
from rich.syntax import Syntax
from rich.text import Text

from rlm._bounded import clip
from rlm._terminal import terminal_safe
from rlm.logger.observer import Observer
from rlm.types import REPLResult

_MAX = 2_000


def _cut(text: str) -> str:
    return clip(text, _MAX, count=True)


def _model_text(text: str) -> Text:
    """Model-controlled text as plain text: no markup parsed, no control characters."""
    return Text(terminal_safe(_cut(text)))


class ConsolePrinter(Observer):
    def __init__(self, console: Console | None = None):
        self.console = console or Console(stderr=True)
        self._lock = threading.Lock()  # child runs print from several threads

    def _print(self, *items: object) -> None:
        with self._lock:
            for item in items:
                self.console.print(item)

    def iteration_started(self, depth: int, number: int) -> None:
        self._print(f"[bold cyan]── depth {depth} · iteration {number} ──[/]")

    def model_responded(self, depth: int, text: str) -> None:
        self._print(Panel(_model_text(text), title=f"model (depth {depth})", border_style="blue"))

    def code_executed(self, depth: int, code: str, result: REPLResult) -> None:
        out = "\n".join(x for x in (result.stdout, result.stderr) if x) or "(no output)"
        self._print(
            Syntax(terminal_safe(_cut(code)), "python", theme="ansi_dark", line_numbers=False),
            Panel(
                _model_text(out),
                title=f"output · {result.execution_time:.2f}s · {len(result.rlm_calls)} sub-calls",
                border_style="red" if result.stderr else "green",
            ),
        )

    def final_answer(self, depth: int, answer: str) -> None:
        self._print(
            Panel(_model_text(answer), title=f"final answer (depth {depth})", border_style="yellow")
        )
