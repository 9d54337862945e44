"""The live display, driven by a real completion's callbacks on a terminal-like console."""

from __future__ import annotations

import io

from rich.console import Console

from rlm import RLM
from rlm.cli.progress import Progress
from rlm.cli.run import _usage_of


def test_live_display_tracks_iterations_subcalls_and_tokens():
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120)
    progress = Progress(console)
    seen = []

    def model(messages):
        if messages[0]["role"] != "system":
            # A sub-call: the display shows it running while we are inside it.
            seen.append(progress.render())
            return "sub answer"
        if any(m["role"] == "assistant" for m in messages):
            return "FINAL(ok)"
        return "```repl\nprint(llm_query_batched(['a?', 'b?']))\n```"

    rlm = RLM(
        backend="function",
        environment="local",
        backend_kwargs={"function": model},
        **progress.callbacks(),
    )
    progress.usage = lambda: _usage_of(rlm)
    with progress:
        assert rlm.completion("ctx").response == "ok"
    assert progress.live_mode
    assert progress.done == 2 and progress.failed == 0 and not progress.running
    assert progress.iterations_done == 2

    recorder = Console(record=True, width=120)
    recorder.print(seen[0])
    text = recorder.export_text()
    assert "iteration 1" in text and "running" in text and "↳ function" in text
    recorder.print(progress.render())
    final = recorder.export_text()
    assert "2 done" in final and f"{_usage_of(rlm)[0]:,} tokens" in final
    assert _usage_of(rlm)[0] > 0
