"""Run the real-material question set: a plain call, `rlm run`, and the router if present.

plain   one call of the same model: the corpus as text (documents headed by their paths), cut
        at the end to fit the model's window, then the question.
rlm     exactly what `rlm run QUESTION -c PATH... --json` does (its code path, in this process
        so the model loads once), with its exit code and finish reason.
router  `rlm.SmartRouter` (when this checkout has it): a plain call or an RLM by context size.

Questions are grouped by corpus and each method runs over a whole group before the next, so
llama.cpp's prompt cache serves a corpus's shared prefix to every plain question after the
first. Rows go to `<name>.jsonl` as they finish; `<name>.md`/`.json` are rewritten each time.
"""

from __future__ import annotations

import io
import json
import re
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS, commit, describe_header, header, markdown_table
from benchmarks.realqa.questions import CORPORA, QUESTIONS, Documents, Question
from benchmarks.realqa.scoring import is_correct

OUTPUT_RESERVE_TOKENS = 512
QUESTION_RESERVE_TOKENS = 120
START_CHARS_PER_TOKEN = 3.0  # code tokenizes worse than prose; corrected after the first call


def load_corpus(name: str) -> tuple[Any, Documents]:
    """(the value `rlm run` puts in `context`, the documents as (path, text))."""
    from rlm.cli.context import load_context

    loaded = load_context(CORPORA[name])
    value = loaded.value
    if isinstance(value, str):
        return value, [(CORPORA[name][0], value)]
    return value, [(d["path"], d["content"]) for d in value]


def verified(question: Question, docs: Documents) -> bool:
    if callable(question.evidence):
        return bool(question.evidence(docs))
    rx = re.compile(question.evidence, re.MULTILINE)
    return any(rx.search(text) for _, text in docs)


def as_text(docs: Documents) -> str:
    if len(docs) == 1:
        return docs[0][1]
    return "\n\n".join(f"=== {path} ===\n{text}" for path, text in docs)


class PlainRunner:
    """One call per question; the cut point is fixed per corpus so the prefix stays cached."""

    def __init__(self, client: Any, window: int):
        self.client = client
        self.window = window
        self.cut: dict[str, int] = {}

    def __call__(self, q: Question, docs: Documents) -> dict[str, Any]:
        text = as_text(docs)
        budget = self.cut.get(q.corpus) or int(
            (self.window - OUTPUT_RESERVE_TOKENS - QUESTION_RESERVE_TOKENS) * START_CHARS_PER_TOKEN
        )
        start = time.perf_counter()
        error, reply, usage = None, "", None
        for _ in range(4):
            body = text[:budget]
            prompt = f"{body}\n\nQuestion: {q.question}\nAnswer:"
            try:
                response = self.client.complete(prompt)
            except Exception as exc:  # a failed call is a wrong answer, not a crashed run
                error = f"{type(exc).__name__}: {exc}"
                if "context" in str(exc).lower() and budget > 1000:
                    budget = int(budget * 0.8)
                    continue
                break
            error, reply, usage = None, response.text, response.usage
            # Fill the window next time if this cut left room (only before the first success
            # of a corpus, so later questions share the cached prefix).
            if q.corpus not in self.cut:
                self.cut[q.corpus] = budget
            break
        return {
            "prediction": reply,
            "finish_reason": None,
            "exit_code": None,
            "input_tokens": usage.input_tokens if usage else None,
            "output_tokens": usage.output_tokens if usage else None,
            "time_s": time.perf_counter() - start,
            "truncated": len(text) > budget,
            "context_shown_chars": min(len(text), budget),
            "error": error,
        }


def run_cli(
    q: Question, backend: str, backend_kwargs: dict[str, Any], flags: dict[str, Any], log_dir: Path
) -> dict[str, Any]:
    """`rlm run QUESTION -c CORPUS --json -q` through the CLI's own code, in this process."""
    from rich.console import Console

    from rlm.cli.config import load_settings
    from rlm.cli.run import RunOptions, execute

    settings = load_settings({"backend": backend, "log_dir": str(log_dir), **flags})
    options = RunOptions(
        query=q.question,
        contexts=CORPORA[q.corpus],
        backend_kwargs=dict(backend_kwargs),
        json_output=True,
        quiet=True,
        no_log=False,
    )
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    code = execute(options, settings, io.BytesIO(), out, Console(file=err, width=200))
    elapsed = time.perf_counter() - start
    try:
        data = json.loads(out.getvalue())
    except json.JSONDecodeError:
        data = {"response": out.getvalue(), "error": "stdout was not JSON"}
    usage = data.get("usage") or {}
    models = (usage.get("model_usage_summaries") or {}).values()
    return {
        "prediction": data.get("response") or "",
        "finish_reason": data.get("finish_reason"),
        "exit_code": code,
        "input_tokens": sum(m.get("total_input_tokens", 0) for m in models) or None,
        "output_tokens": sum(m.get("total_output_tokens", 0) for m in models) or None,
        "time_s": elapsed,
        "truncated": False,
        "error": data.get("error"),
        "stderr": err.getvalue()[-400:],
        "log_path": data.get("log_path"),
    }


def run_router(q: Question, context: Any, router: Any) -> dict[str, Any]:
    """`SmartRouter.run(question, context)`: a plain call when the context fits the window,
    else an RLM with the router's default profile."""
    start = time.perf_counter()
    error, reply, reason, tokens = None, "", None, None
    try:
        result = router.run(q.question, context)
        reply, tokens = result.output, result.tokens_used
        completion = result.completion
        reason = completion.finish_reason if completion is not None else "plain"
    except Exception as exc:  # a failed run is a wrong answer, not a crashed benchmark
        error = f"{type(exc).__name__}: {exc}"
        reply = getattr(exc, "partial_answer", None) or ""
        reason = "limit"
    return {
        "prediction": reply or "",
        "finish_reason": reason,
        "exit_code": None,
        "input_tokens": tokens,
        "output_tokens": None,
        "time_s": time.perf_counter() - start,
        "truncated": False,
        "error": error,
    }


def router_available() -> bool:
    import rlm

    return hasattr(rlm, "SmartRouter")


def table(rows: list[dict[str, Any]], methods: list[str]) -> str:
    by_q: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    order: list[str] = []
    for r in rows:
        if r["qid"] not in by_q:
            order.append(r["qid"])
        by_q[r["qid"]][r["method"]] = r
    head = ["question", "corpus (chars)", "gold"]
    for m in methods:
        head += [m, f"{m} s"] + (["finish / exit"] if m == "rlm" else [])
    body: list[list[Any]] = []
    for qid in order:
        first = next(iter(by_q[qid].values()))
        line: list[Any] = [qid, f"{first['corpus']} ({first['context_chars']:,})", first["gold"]]
        for m in methods:
            r = by_q[qid].get(m)
            if r is None:
                line += ["", ""] + ([""] if m == "rlm" else [])
                continue
            mark = "right" if r["correct"] else "wrong"
            shown = " ".join((r["prediction"] or "").split())[:40].replace("|", "/")
            cut = " (cut)" if r.get("truncated") else ""
            line += [f"{mark}{cut}: `{shown}`", f"{r['time_s']:.0f}"]
            if m == "rlm":
                line.append(f"{r.get('finish_reason')} / {r.get('exit_code')}")
        body.append(line)
    total: list[Any] = ["**right**", "", ""]
    for m in methods:
        rs = [r for r in rows if r["method"] == m]
        right = sum(r["correct"] for r in rs)
        total += [f"**{right}/{len(rs)}**" if rs else "", ""] + ([""] if m == "rlm" else [])
    body.append(total)
    return markdown_table(head, body)


def silent_wrong(rows: list[dict[str, Any]]) -> list[str]:
    """RLM answers that were wrong yet exited 0 (the Done-when says: never)."""
    return [
        r["qid"]
        for r in rows
        if r["method"] == "rlm" and not r["correct"] and r.get("exit_code") == 0
    ]


def write(
    rows: list[dict[str, Any]], meta: dict[str, Any], methods: list[str], name: str, out: Path
) -> None:
    data = json.dumps({"meta": meta, "rows": rows}, indent=1, default=str)
    (out / f"{name}.json").write_text(data + "\n")
    quiet_wrong = silent_wrong(rows)
    summary = f"RLM wrong answers that exited 0: {len(quiet_wrong)}" + (
        f" ({', '.join(quiet_wrong)})" if quiet_wrong else ""
    )
    (out / f"{name}.md").write_text(
        f"# {meta['title']}\n\n{describe_header(meta)}\n\nReproduce: `{meta['command']}`\n\n"
        f"{table(rows, methods)}\n\n{summary}\n\n{meta.get('notes', '')}\n"
    )


def main(
    backend: str,
    backend_kwargs: dict[str, Any],
    methods: list[str],
    cli_flags: dict[str, Any],
    name: str,
    command: str,
    only: list[str] | None = None,
    notes: str = "",
    out_dir: Path | None = None,
    reuse: str | None = None,
) -> list[dict[str, Any]]:
    from rlm.clients import get_client

    out = out_dir or RESULTS
    out.mkdir(parents=True, exist_ok=True)
    log_dir = out / f"{name}-logs"
    if "router" in methods and not router_available():
        print("realqa: rlm.SmartRouter is not in this checkout; skipping 'router'", file=sys.stderr)
        methods = [m for m in methods if m != "router"]
    client = None
    if "plain" in methods or "router" in methods:
        client = get_client(backend, backend_kwargs)
    window = getattr(client, "context_window", None) or int(backend_kwargs.get("n_ctx", 8192))
    plain = PlainRunner(client, window) if client is not None else None
    router = None
    if "router" in methods:
        import rlm

        router_kwargs = {k: v for k, v in cli_flags.items() if k in ("max_timeout", "environment")}
        router = rlm.SmartRouter(client, **router_kwargs)
    reused = []
    if reuse:  # rows of methods not rerun, from an earlier run of the same questions
        reused = [json.loads(line) for line in (out / f"{reuse}.jsonl").read_text().splitlines()]
        reused = [r for r in reused if r["method"] not in methods]
    shown_methods = sorted(
        {*methods, *(r["method"] for r in reused)}, key=["plain", "rlm", "router"].index
    )

    measured = commit()  # the code this process runs, even if the tree changes meanwhile

    def meta() -> dict[str, Any]:
        return {
            **header(
                "realqa",
                title=f"Real-material questions: {', '.join(shown_methods)} ({backend})",
                backend=backend,
                backend_kwargs=backend_kwargs,
                cli_flags=cli_flags,
                window_tokens=window,
                command=command,
                reused_from=reuse,
                notes=notes,
            ),
            **measured,
        }

    selected = [q for q in QUESTIONS if not only or q.qid in only or q.corpus in only]
    rows: list[dict[str, Any]] = [
        r for r in reused if not only or r["qid"] in {q.qid for q in selected}
    ]
    sink = (out / f"{name}.jsonl").open("w")
    for r in rows:
        sink.write(json.dumps(r) + "\n")
    by_corpus: dict[str, list[Question]] = defaultdict(list)
    for q in selected:
        by_corpus[q.corpus].append(q)
    for corpus, questions in by_corpus.items():
        context, docs = load_corpus(corpus)
        chars = sum(len(t) for _, t in docs)
        for method in methods:
            for q in questions:
                if not verified(q, docs):
                    print(
                        f"realqa: {q.qid}: its evidence is not in {corpus} on this machine; "
                        "left out",
                        file=sys.stderr,
                    )
                    continue
                if method == "plain":
                    result = plain(q, docs)
                elif method == "rlm":
                    result = run_cli(q, backend, backend_kwargs, cli_flags, log_dir)
                else:
                    result = run_router(q, context, router)
                row = {
                    "qid": q.qid,
                    "corpus": corpus,
                    "context_chars": chars,
                    "documents": len(docs),
                    "aggregation": q.aggregation,
                    "method": method,
                    "gold": q.answers[0],
                    "correct": is_correct(result["prediction"], q.answers, q.numeric, q.question),
                    **result,
                    "prediction": (result["prediction"] or "")[:600],
                }
                rows.append(row)
                sink.write(json.dumps(row, default=str) + "\n")
                sink.flush()
                print(
                    f"realqa {q.qid:32s} {method:6s} {'RIGHT' if row['correct'] else 'wrong'} "
                    f"{row['time_s']:6.1f}s finish={row.get('finish_reason')} "
                    f"exit={row.get('exit_code')} answer={row['prediction'][:80]!r}",
                    file=sys.stderr,
                    flush=True,
                )
                write(rows, meta(), shown_methods, name, out)
    sink.close()
    write(rows, meta(), shown_methods, name, out)
    return rows


def combine(names: list[str], name: str, notes: str = "", out_dir: Path | None = None) -> None:
    """One table from several runs (e.g. plain and rlm measured separately): every run's
    commit and command are listed, and each row keeps the run it came from. `NAME:plain+rlm`
    takes only those methods' rows from NAME; a later source's row for the same question
    and method replaces an earlier one."""
    out = out_dir or RESULTS
    rows: list[dict[str, Any]] = []
    sources = []
    for spec in names:
        source, _, wanted = spec.partition(":")
        keep = set(wanted.split("+")) if wanted else None
        data = json.loads((out / f"{source}.json").read_text())
        data["rows"] = [r for r in data["rows"] if keep is None or r["method"] in keep]
        replaced = {(r["qid"], r["method"]) for r in data["rows"]}
        rows = [r for r in rows if (r["qid"], r["method"]) not in replaced]
        meta = data["meta"]
        sources.append(
            f"- `{spec}`: commit `{meta['commit'][:12]}`"
            f"{' (uncommitted changes)' if meta.get('dirty') else ''}, {meta['date']}, "
            f"`{meta['command']}`"
        )
        rows += [{**r, "source": source} for r in data["rows"]]
    methods = sorted({r["method"] for r in rows}, key=["plain", "rlm", "router"].index)
    meta = {
        **json.loads((out / f"{names[-1].partition(':')[0]}.json").read_text())["meta"],
        "title": f"Real-material questions: {', '.join(methods)}",
        "command": "python -m benchmarks realqa --combine " + ",".join(names) + f" --name {name}",
        "notes": "Measured by:\n" + "\n".join(sources) + (f"\n\n{notes}" if notes else ""),
    }
    write(rows, meta, methods, name, out)
