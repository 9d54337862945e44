"""Code QA: `rlm code` against the plain model, and the index's build / incremental times.

qa      each question of benchmarks/codeqa_questions.py, answered two ways on one backend:
        plain  the package's files (sorted by path, each under a `### path` header) cut to the
               model's window, then the question: one LM call.
        rlm    rlm.codebase.ask: the RLM navigates the package with the helpers.
index   a generated tree of N Python files: cold build, reopen from the cache with nothing
        changed, and an update after 1% of the files changed; times as ratios of the build.
"""

from __future__ import annotations

import json
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.codeqa_questions import Question, build_set, package_root
from benchmarks.common import RESULTS, header, markdown_table, write_results

OUTPUT_RESERVE_TOKENS = 512
CHARS_PER_TOKEN = 3.0  # code tokenizes worse than prose: a conservative cut


def plain_prompt(question: Question, window: int) -> tuple[str, bool]:
    from rlm.codebase import Codebase

    root = package_root(question.package)
    codebase = Codebase.open(root, use_cache=False)
    parts = []
    for entry in codebase.list_files("*.py"):
        parts.append(f"### {entry['path']}\n{(root / entry['path']).read_text('utf-8')}\n")
    text = "".join(parts)
    frame = f"Source files of the Python package `{question.package}`:\n\n{{}}\n\nQuestion: " + (
        f"{question.question}\nAnswer briefly."
    )
    budget = int((window - OUTPUT_RESERVE_TOKENS) * CHARS_PER_TOKEN) - len(frame)
    return frame.format(text[:budget]), len(text) > budget


def run_qa(
    questions: list[Question],
    backend: str,
    backend_kwargs: dict[str, Any],
    methods: list[str],
    rlm_kwargs: dict[str, Any],
    window: int | None,
    log: Path,
    time_budget: float | None = None,
) -> list[dict[str, Any]]:
    """Ask each question by each method, in order; with `time_budget` (seconds), no new
    question starts once it is spent (every question asked is answered by every method)."""
    from rlm.clients import get_client
    from rlm.codebase import Codebase, ask

    client = get_client(backend, backend_kwargs)
    window = window or getattr(client, "context_window", None) or 8192
    rows = []
    began = time.perf_counter()
    for number, question in enumerate(questions, 1):
        if time_budget is not None and time.perf_counter() - began > time_budget:
            print(f"time budget spent: stopped after {number - 1} questions", flush=True)
            break
        for method in methods:
            started = time.perf_counter()
            row: dict[str, Any] = {"id": question.id, "kind": question.kind, "method": method}
            try:
                if method == "plain":
                    prompt, row["truncated"] = plain_prompt(question, window)
                    response = client.complete(prompt)
                    answer = response.text
                    row["tokens"] = response.usage.input_tokens + response.usage.output_tokens
                else:
                    codebase = Codebase.open(package_root(question.package), use_cache=False)
                    result = ask(
                        question.question,
                        codebase,
                        backend=backend,
                        backend_kwargs=backend_kwargs,
                        **rlm_kwargs,
                    )
                    answer = result.response
                    row["tokens"] = result.usage_summary.total_tokens
            except Exception as exc:  # a failed question scores 0; the run goes on
                # A limit error carries the best answer so far: score that, say it was cut.
                answer = getattr(exc, "partial_answer", None) or ""
                row["error"] = f"{type(exc).__name__}: {exc}"[:300]
            row.update(
                answer=answer[:500],
                score=question.score(answer),
                seconds=round(time.perf_counter() - started, 1),
            )
            rows.append(row)
            with log.open("a") as fh:
                fh.write(json.dumps(row) + "\n")
            print(f"[{number}/{len(questions)}] {method} {question.id}: {row['score']}", flush=True)
    return rows


def _generate_tree(root: Path, n_files: int) -> list[Path]:
    paths = []
    for i in range(n_files):
        directory = root / f"pkg{i // 100:03d}"
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"mod{i:05d}.py"
        body = "".join(
            f"\n\ndef func_{i}_{j}(x, y=1):\n    total = x + y\n    return total * {j}\n"
            for j in range(4)
        )
        path.write_text(
            f'"""Module {i}."""\n\n\nclass Thing{i}:\n    def run(self):\n'
            f"        return {i}\n{body}"
        )
        paths.append(path)
    return paths


def run_index(n_files: int) -> dict[str, Any]:
    from rlm.codebase import Index

    work = Path(tempfile.mkdtemp(prefix="rlm-codeqa-index-"))
    try:
        paths = _generate_tree(work / "tree", n_files)
        cache = work / "cache"
        started = time.perf_counter()
        index = Index.open(work / "tree", cache_dir=cache)
        build = time.perf_counter() - started
        started = time.perf_counter()
        Index.open(work / "tree", cache_dir=cache)
        reopen = time.perf_counter() - started
        changed = random.Random(0).sample(paths, max(1, n_files // 100))
        for path in changed:
            path.write_text(path.read_text() + "\n\ndef added():\n    return 0\n")
        started = time.perf_counter()
        stats = index.update()
        update = time.perf_counter() - started
        symbols = sum(len(f["symbols"]) for f in index.files.values())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "files": n_files,
        "symbols": symbols,
        "build_s": round(build, 3),
        "reopen_s": round(reopen, 3),
        "update_s": round(update, 3),
        "changed_files": stats.changed,
        "reopen_over_build": round(reopen / build, 4),
        "update_over_build": round(update / build, 4),
    }


def main(
    *,
    backend: str | None,
    backend_kwargs: dict[str, Any],
    methods: list[str],
    limit: int | None,
    rlm_kwargs: dict[str, Any],
    window: int | None,
    index_files: int,
    name: str,
    command: str,
    notes: str,
    time_budget: float | None = None,
) -> None:
    questions = build_set()
    meta = header("codeqa", command=command, notes=notes, title="Code QA and index speed")
    meta["question_count"] = len(questions)
    meta["questions"] = [q.to_dict() for q in questions]
    meta["index"] = run_index(index_files) if index_files else None
    rows: list[dict[str, Any]] = []
    if backend and backend != "none":
        meta.update(backend=backend, backend_kwargs=backend_kwargs, rlm_kwargs=rlm_kwargs)
        asked = questions[:limit] if limit else questions
        log = RESULTS / f"{name}.jsonl"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("")
        rows = run_qa(asked, backend, backend_kwargs, methods, rlm_kwargs, window, log, time_budget)
        meta["asked"] = len({r["id"] for r in rows})
        meta["time_budget_s"] = time_budget
    write_results(name, meta, rows, _tables(meta, rows, methods))


def _tables(meta: dict[str, Any], rows: list[dict[str, Any]], methods: list[str]) -> str:
    out = []
    index = meta.get("index")
    if index:
        out.append(
            "Index of a generated tree (`Index.open`, cold; reopened from the cache; updated "
            "after 1% of the files changed):\n\n"
            + markdown_table(
                [
                    "files",
                    "symbols",
                    "build (s)",
                    "reopen (s)",
                    "update (s)",
                    "changed",
                    "reopen / build",
                    "update / build",
                ],
                [
                    [
                        index["files"],
                        index["symbols"],
                        index["build_s"],
                        index["reopen_s"],
                        index["update_s"],
                        index["changed_files"],
                        index["reopen_over_build"],
                        index["update_over_build"],
                    ]
                ],
            )
        )
    if rows:
        summary = []
        for method in methods:
            mine = [r for r in rows if r["method"] == method]
            summary.append(
                [
                    method,
                    len(mine),
                    sum(r["score"] for r in mine) / max(1, len(mine)),
                    statistics.mean(r["seconds"] for r in mine) if mine else 0.0,
                    sum(1 for r in mine if "error" in r),
                ]
            )
        out.append(
            f"Code QA ({meta.get('asked')} of {meta['question_count']} questions asked):\n\n"
            + markdown_table(
                ["method", "questions", "accuracy", "mean time (s)", "errors"], summary
            )
        )
        out.append(
            markdown_table(
                ["question", "method", "score", "time (s)", "answer"],
                [
                    [
                        r["id"],
                        r["method"],
                        r["score"],
                        r["seconds"],
                        (r.get("error") or r["answer"]).replace("\n", " ").replace("|", "/")[:120],
                    ]
                    for r in rows
                ],
            )
        )
    return "\n\n".join(out)
