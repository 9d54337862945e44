"""Run the long-context task suite: the plain model against RLM, on any backend.

plain  one LM call with the context and the question in the prompt. A context longer than
       the model's window (client.context_window, or --window) is cut to fit, keeping the
       start, and the row says `truncated` (the paper's base-model setting).
rlm    RLM(...).completion(context, root_prompt=question).

Per task and method: score, tokens, cost, time -> `<name>.jsonl`; then a summary table
`<name>.md`, a plot of score against context length `<name>.svg`, and `<name>.json`.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS, describe_header, header, markdown_table
from benchmarks.plot import line_plot_svg
from benchmarks.tasks import Task
from benchmarks.tasks.base import CHARS_PER_TOKEN

OUTPUT_RESERVE_TOKENS = 512  # room left in the window for the plain model's answer


def plain_prompt(
    task: Task, window: int | None, shrink: float = 1.0, chars_per_token: float | None = None
) -> tuple[str, bool]:
    """The plain model's prompt, cut to fit `window` tokens; and whether it was cut.

    `chars_per_token` is what the model's tokenizer did on this task family before (measured
    from a previous call's usage); without it, 4 with a 15% margin."""
    text = task.context_as_text()
    frame = "{context}\n\nQuestion: {question}\nAnswer:"
    if window is not None:
        ratio = chars_per_token * 0.95 if chars_per_token else CHARS_PER_TOKEN * 0.85
        budget_chars = (window - OUTPUT_RESERVE_TOKENS) * ratio - len(
            frame.format(context="", question=task.question)
        )
        budget_chars = int(budget_chars * shrink)
        if len(text) > budget_chars:
            return frame.format(context=text[: max(budget_chars, 0)], question=task.question), True
    return frame.format(context=text, question=task.question), False


def _is_overflow(exc: Exception) -> bool:
    message = str(exc).lower()
    return "context" in message and any(
        word in message for word in ("exceed", "too long", "window", "n_ctx", "maximum")
    )


def run_plain(
    client: Any, task: Task, window: int | None, chars_per_token: float | None = None
) -> dict[str, Any]:
    start = time.perf_counter()
    error = None
    text = ""
    input_tokens = output_tokens = 0
    cost = None
    truncated = False
    # Digits and IDs tokenize worse than prose: when the cut prompt still overflows the
    # window, cut harder rather than score an avoidable error.
    for shrink in (1.0, 0.75, 0.5, 0.3):
        prompt, truncated = plain_prompt(task, window, shrink, chars_per_token)
        try:
            response = client.complete(prompt)
        except Exception as exc:  # a failed task is a result (score 0), not a crash of the run
            error = f"{type(exc).__name__}: {exc}"
            if window is not None and _is_overflow(exc):
                continue
            break
        error = None
        text = response.text
        input_tokens = response.usage.input_tokens
        output_tokens = response.usage.output_tokens
        cost = response.usage.cost
        break
    return {
        "prediction": text,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cost": cost,
        "time_s": time.perf_counter() - start,
        "truncated": truncated,
        "prompt_chars": len(prompt),
        "error": error,
    }


def run_rlm(client: Any, task: Task, rlm_kwargs: dict[str, Any]) -> dict[str, Any]:
    from rlm import RLM
    from rlm.errors import RLMError

    engine = RLM(backend=client, **rlm_kwargs)
    before = client.get_usage_summary()
    start = time.perf_counter()
    error = None
    text = ""
    usage = None
    try:
        result = engine.completion(task.context, root_prompt=task.question)
        text = result.response
        usage = result.usage_summary
    except RLMError as exc:  # limits: keep the best answer so far, as a user would
        error = f"{type(exc).__name__}: {exc}"
        text = getattr(exc, "partial_answer", None) or ""
        # Limit errors carry no usage: take what the shared client counted during the run.
        usage = _usage_delta(before, client.get_usage_summary())
    return {
        "prediction": text,
        "input_tokens": usage.total_input_tokens if usage else None,
        "output_tokens": usage.total_output_tokens if usage else None,
        "cost": usage.total_cost if usage else None,
        "calls": usage.total_calls if usage else None,
        "time_s": time.perf_counter() - start,
        "truncated": False,
        "error": error,
    }


def _usage_delta(before: Any, after: Any) -> Any:
    from rlm.core.types import ModelUsageSummary, UsageSummary

    out = {}
    for model, now in after.model_usage_summaries.items():
        then = before.model_usage_summaries.get(model, ModelUsageSummary())
        out[model] = ModelUsageSummary(
            total_calls=now.total_calls - then.total_calls,
            total_input_tokens=now.total_input_tokens - then.total_input_tokens,
            total_output_tokens=now.total_output_tokens - then.total_output_tokens,
            total_cost=(now.total_cost or 0.0) - (then.total_cost or 0.0)
            if now.total_cost is not None
            else None,
        )
    return UsageSummary(out)


def run_suite(
    tasks: list[Task],
    client: Any,
    methods: list[str],
    rlm_kwargs: dict[str, Any],
    window: int | None,
    jsonl_path: Path,
    on_row: Any = None,
) -> list[dict[str, Any]]:
    rows = []
    # Learn the tokenizer's characters per token per task family from the plain calls' usage,
    # so later truncations fill the window instead of guessing 4 with a wide margin.
    chars_per_token: dict[str, float] = {}
    jsonl_path.parent.mkdir(parents=True, exist_ok=True)
    with jsonl_path.open("w") as sink:
        for task in tasks:
            for method in methods:
                if method == "plain":
                    out = run_plain(client, task, window, chars_per_token.get(task.family))
                    if out["error"] is None and out["input_tokens"]:
                        chars_per_token[task.family] = out["prompt_chars"] / out["input_tokens"]
                elif method == "rlm":
                    out = run_rlm(client, task, rlm_kwargs)
                else:
                    raise ValueError(f"unknown method {method!r}: plain | rlm")
                row = {
                    "task_id": task.task_id,
                    "family": task.family,
                    "context_tokens": task.context_tokens,
                    "method": method,
                    "score": task.score(out["prediction"]),
                    "gold": task.gold if task.family != "pairs" else f"{len(task.gold)} pairs",
                    **out,
                    "prediction": out["prediction"][:1000],
                    "seed": task.seed,
                    "meta": task.meta,
                }
                rows.append(row)
                sink.write(json.dumps(row) + "\n")
                sink.flush()  # a crash or Ctrl-C keeps every finished task
                if on_row is not None:
                    on_row(list(rows))
                print(
                    f"tasks {task.task_id:32s} {method:5s} score={row['score']:.2f} "
                    f"time={row['time_s']:.1f}s{' TRUNCATED' if row['truncated'] else ''}"
                    f"{' ERROR ' + row['error'][:120] if row['error'] else ''}",
                    file=sys.stderr,
                )
    return rows


_SIZE_RE = re.compile(r"-(\d+)-s\d+$")


def nominal_tokens(row: dict[str, Any]) -> int:
    """The size the task was generated for (its id says so): actual sizes differ a little
    by family and seed, and tables and plots group by the requested size."""
    found = _SIZE_RE.search(row["task_id"])
    return int(found.group(1)) if found else int(row["context_tokens"])


def kind(row: dict[str, Any]) -> str:
    """Family plus question type (oolong-count, oolong-most_frequent): the task id less its
    size and seed."""
    return _SIZE_RE.sub("", row["task_id"]) or row["family"]


def summary_table(rows: list[dict[str, Any]]) -> str:
    groups: dict[tuple[str, int], dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    methods = sorted({r["method"] for r in rows}, key=lambda m: m != "plain")
    for r in rows:
        groups[(kind(r), nominal_tokens(r))][r["method"]].append(r)
    head = ["task", "context (tokens)"]
    for m in methods:
        head += [f"{m} score", f"{m} tokens in/out", f"{m} time (s)"]
    body = []
    for (family, tokens), by_method in sorted(groups.items()):
        line: list[Any] = [family, f"{tokens:,}"]
        for m in methods:
            rs = by_method.get(m, [])
            if not rs:
                line += ["", "", ""]
                continue
            score = statistics.mean(r["score"] for r in rs)
            flags = ""
            if any(r["truncated"] for r in rs):
                flags += " (truncated)"
            if any(r["error"] for r in rs):
                flags += f" ({sum(1 for r in rs if r['error'])} error)"
            tin = sum(r["input_tokens"] or 0 for r in rs) // len(rs)
            tout = sum(r["output_tokens"] or 0 for r in rs) // len(rs)
            line += [
                f"{score:.2f}{flags}",
                f"{tin:,} / {tout:,}",
                f"{statistics.mean(r['time_s'] for r in rs):.1f}",
            ]
        body.append(line)
    overall: list[Any] = ["**mean**", ""]
    for m in methods:
        rs = [r for r in rows if r["method"] == m]
        overall += [f"**{statistics.mean(r['score'] for r in rs):.2f}**" if rs else "", "", ""]
    body.append(overall)
    return markdown_table(head, body)


def plot(rows: list[dict[str, Any]], title: str) -> str:
    series: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        series[f"{kind(r)} / {r['method']}"][nominal_tokens(r)].append(r["score"])
    points = {
        name: [(float(x), statistics.mean(ys)) for x, ys in sorted(by_x.items())]
        for name, by_x in series.items()
    }
    return line_plot_svg(points, title, dashed={n for n in points if n.endswith("/ plain")})


def write(
    rows: list[dict[str, Any]], meta: dict[str, Any], name: str, out_dir: Path | None = None
) -> None:
    out = out_dir or RESULTS
    (out / f"{name}.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    (out / f"{name}.svg").write_text(plot(rows, meta.get("title", name)))
    notes = meta.get("notes", "")
    (out / f"{name}.md").write_text(
        f"# {meta.get('title', name)}\n\n{describe_header(meta)}\n\n"
        f"Reproduce: `{meta.get('command', '')}`\n\n{summary_table(rows)}\n\n"
        f"![score against context length]({name}.svg)\n" + (f"\n{notes}\n" if notes else "")
    )


def main(
    tasks: list[Task],
    backend: Any,
    backend_kwargs: dict[str, Any],
    methods: list[str],
    rlm_kwargs: dict[str, Any],
    window: int | None,
    name: str,
    command: str,
    notes: str = "",
    out_dir: Path | None = None,
) -> list[dict[str, Any]]:
    from rlm.clients import get_client

    client = get_client(backend, backend_kwargs)  # one client: the model loads once
    backend_name = backend if isinstance(backend, str) else type(backend).__name__
    window = window or getattr(client, "context_window", None)
    out = out_dir or RESULTS

    def meta_now() -> dict[str, Any]:
        return header(
            "tasks",
            title=f"Long-context tasks: plain model vs RLM ({backend_name})",
            backend=backend_name,
            client=client.describe(),
            window_tokens=window,
            rlm_kwargs={k: v for k, v in rlm_kwargs.items() if k != "logger"},
            tasks=[t.task_id for t in tasks],
            command=command,
            notes=notes,
        )

    rows = run_suite(
        tasks,
        client,
        methods,
        rlm_kwargs,
        window,
        out / f"{name}.jsonl",
        on_row=lambda done: write(done, meta_now(), name, out),
    )
    write(rows, meta_now(), name, out)
    return rows
