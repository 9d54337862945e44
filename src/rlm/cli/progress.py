"""Live progress on stderr, driven by the RLM's progress callbacks.

On a terminal it is a rich live panel (iteration, sub-calls running and done, tokens, cost,
elapsed time); elsewhere (pipes, CI logs) it prints one plain line per event. The answer
itself goes to stdout, so `rlm run ... > answer.txt` stays clean.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console, Group
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from rlm._bounded import preview
from rlm._terminal import terminal_safe

UsageFn = Callable[[], tuple[int, float | None]]  # (total tokens, total cost or None)


@dataclass
class _Call:
    depth: int
    model: str
    preview: str
    started: float


class Progress:
    """Callbacks for `RLM(...)` plus the display they drive. Thread-safe: batched sub-calls
    report from worker threads."""

    def __init__(self, console: Console, usage: UsageFn | None = None, enabled: bool = True):
        self.console = console
        self.usage = usage or (lambda: (0, None))
        self.enabled = enabled
        self.live_mode = enabled and console.is_terminal
        self.start = time.monotonic()
        self.iteration: dict[int, int] = {}  # depth -> current iteration
        self.iterations_done = 0
        self.running: dict[int, _Call] = {}
        self.done = 0
        self.failed = 0
        self._next_id = 0
        self._lock = threading.Lock()
        self._live: Live | None = None

    # -- lifecycle --------------------------------------------------------------------------
    def __enter__(self) -> Progress:
        self.start = time.monotonic()
        if self.live_mode:
            self._live = Live(
                get_renderable=self.render,
                console=self.console,
                refresh_per_second=8,
                transient=True,
            )
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None

    def summary_line(self) -> str:
        tokens, cost = self.usage()
        parts = [
            f"{self.iterations_done} iteration(s)",
            f"{self.done} sub-call(s)" + (f" ({self.failed} failed)" if self.failed else ""),
            f"{tokens:,} tokens",
        ]
        if cost:
            parts.append(f"${cost:.4f}")
        parts.append(f"{time.monotonic() - self.start:.1f}s")
        return " · ".join(parts)

    # -- the RLM callbacks ------------------------------------------------------------------
    def on_iteration_start(self, depth: int, iteration: int) -> None:
        with self._lock:
            self.iteration[depth] = iteration
        if depth == 0:
            self._event(f"iteration {iteration} started")

    def on_iteration_complete(self, depth: int, iteration: int, duration: float) -> None:
        with self._lock:
            self.iterations_done += 1
        if depth == 0:
            self._event(f"iteration {iteration} done in {duration:.1f}s")

    def on_subcall_start(self, depth: int, model: str, prompt_preview: str) -> None:
        with self._lock:
            self._next_id += 1
            self.running[self._next_id] = _Call(depth, model, prompt_preview, time.monotonic())
        self._event(f"sub-call to {model} (depth {depth}): {_one_line(prompt_preview, 60)}")

    def on_subcall_complete(
        self, depth: int, model: str, duration: float, error: str | None
    ) -> None:
        with self._lock:
            # Callbacks carry no call id: retire the oldest running call with this model/depth.
            for key, call in self.running.items():
                if call.model == model and call.depth == depth:
                    del self.running[key]
                    break
            self.done += 1
            if error:
                self.failed += 1
        status = f"failed: {_one_line(error, 80)}" if error else f"done in {duration:.1f}s"
        self._event(f"sub-call to {model} (depth {depth}) {status}")

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {
            "on_iteration_start": self.on_iteration_start,
            "on_iteration_complete": self.on_iteration_complete,
            "on_subcall_start": self.on_subcall_start,
            "on_subcall_complete": self.on_subcall_complete,
        }

    # -- rendering --------------------------------------------------------------------------
    def _event(self, message: str) -> None:
        if self.enabled and not self.live_mode:
            elapsed = time.monotonic() - self.start
            self.console.print(f"[{elapsed:6.1f}s] {message}", highlight=False, markup=False)

    def render(self) -> Group:
        tokens, cost = self.usage()
        with self._lock:
            depth_info = ", ".join(
                f"depth {d}: {i}" for d, i in sorted(self.iteration.items()) if d > 0
            )
            running = list(self.running.values())
            root_iter = self.iteration.get(0, 0)
            done, failed = self.done, self.failed
        head = Table.grid(padding=(0, 2))
        head.add_row(
            Spinner("dots", style="magenta"),
            Text(f"iteration {root_iter}", style="bold"),
            Text(
                f"sub-calls: {len(running)} running, {done} done"
                + (f", {failed} failed" if failed else "")
            ),
            Text(f"{tokens:,} tokens"),
            Text(f"${cost:.4f}" if cost else "$ –"),
            Text(f"{time.monotonic() - self.start:.1f}s", style="dim"),
        )
        rows: list = [head]
        if depth_info:
            rows.append(Text(f"  child iterations ({depth_info})", style="dim"))
        now = time.monotonic()
        for call in running[:4]:
            rows.append(
                Text(
                    f"  ↳ {call.model} d{call.depth} {now - call.started:4.1f}s  "
                    f"{_one_line(call.preview, 70)}",
                    style="cyan",
                )
            )
        if len(running) > 4:
            rows.append(Text(f"  … and {len(running) - 4} more", style="dim"))
        return Group(*rows)


def _one_line(text: str | None, limit: int) -> str:
    return terminal_safe(preview(str(text or ""), limit, one_line=True))
