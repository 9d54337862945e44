"""Replay a realqa RLM run's recorded model replies through this checkout's engine.

The model is the slow and noisy part of a realqa run; what the engine makes of its replies
(which answers it sends back, the finish reason, the exit code) is not. Feeding each
question's recorded root replies, in order, to `rlm run` (the scripted backend playing a model
with the recorded window) shows what this checkout does with the same model behaviour, in
seconds and without the model. Where this engine asks for a reply the recording lacks (it
sent back an answer the recorded run accepted), the scripted model runs out and the row says
so: that question needs a real rerun.

    python -m benchmarks realqa --replay realqa-rlm-1.5b-final
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS, header, markdown_table, write_results
from benchmarks.realqa.questions import QUESTIONS
from benchmarks.realqa.runner import run_cli
from benchmarks.realqa.scoring import is_correct

DEFAULT_WINDOW = 16_384  # the local backend's default n_ctx, what `rlm run` used


def recorded_replies(log: Path) -> list[str]:
    """The root model's replies in a trajectory log, in order."""
    replies = []
    for line in log.read_text().splitlines():
        record = json.loads(line)
        if record.get("type") == "iteration" and record.get("depth", 0) == 0:
            replies.append(record["response"])
    return replies


def replay(name: str, window: int = DEFAULT_WINDOW, out_dir: Path | None = None) -> Path:
    out = out_dir or RESULTS
    runs = [json.loads(line) for line in (out / f"{name}.jsonl").read_text().splitlines()]
    by_id = {q.qid: q for q in QUESTIONS}
    log_dir = out / f"{name}-replay-logs"
    rows: list[dict[str, Any]] = []
    for run in (r for r in runs if r["method"] == "rlm" and r.get("log_path")):
        q = by_id[run["qid"]]
        log = out / f"{name}-logs" / Path(run["log_path"]).name
        replies = recorded_replies(log)
        kwargs = {"responses": replies, "context_window": window}
        result = run_cli(q, "scripted", kwargs, {"environment": "local"}, log_dir)
        ran_out = "ScriptExhausted" in (result.get("error") or "")
        rows.append(
            {
                "qid": q.qid,
                "replies": len(replies),
                "recorded": [run["prediction"], run["finish_reason"], run["exit_code"]],
                "replayed": [result["prediction"], result["finish_reason"], result["exit_code"]],
                "correct": is_correct(result["prediction"], q.answers, q.numeric, q.question),
                "needs_rerun": ran_out,
            }
        )
    wrong_exit_0 = [r["qid"] for r in rows if not r["correct"] and r["replayed"][2] == 0]
    table = markdown_table(
        ["question", "recorded answer", "recorded finish / exit", "replayed finish / exit",
         "right"],
        [
            [
                r["qid"],
                f"`{str(r['recorded'][0])[:40]}`",
                f"{r['recorded'][1]} / {r['recorded'][2]}",
                "model replies ran out: rerun"
                if r["needs_rerun"]
                else f"{r['replayed'][1]} / {r['replayed'][2]}",
                "right" if r["correct"] else "wrong",
            ]
            for r in rows
        ],
    )  # fmt: skip
    table += f"\n\nWrong answers that exit 0 in the replay: {len(wrong_exit_0)}"
    table += f" ({', '.join(wrong_exit_0)})" if wrong_exit_0 else ""
    meta = header(
        "realqa-replay",
        title=f"{name}: the recorded model replies through this checkout's engine",
        replayed=name,
        window_tokens=window,
        command=f"python -m benchmarks realqa --replay {name}",
    )
    _json, md = write_results(f"{name}-replay", meta, rows, table, out)
    return md
