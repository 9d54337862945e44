"""Retrieval quality and the retriever-backed BrowseComp task, on a real model.

1. Quality: a generated corpus of people and their jobs, where each query names the job by a
   synonym the relevant document does not use ("Which physician lives in Varnholm?" over
   "... works as a doctor in Varnholm"), so BM25 alone ties the one relevant document with
   every other document about that town. Rows: BM25; BM25 over the query and the
   rewriter's 3 rewrites, fused by reciprocal rank; the union pool of those lists (the
   query's own hits first, at most 20) reranked listwise (window 10, step 5; replies
   capped at 80 tokens, rewrites at 150). recall@10 and nDCG@10 against the one
   relevant document, model calls and time.
2. BrowseComp-style multi-hop questions (benchmarks/tasks/browsecomp.py) over its ~1,000
   documents put in a LocalIndex instead of a context variable. plain: the question's top 5
   BM25 hits pasted into one prompt (classic RAG); rlm: RLM(retriever=index) searching with
   es_search / es_get from the sandbox.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import header, markdown_table, write_results
from benchmarks.tasks.browsecomp import make_browsecomp
from benchmarks.tasks.text import FIRST_NAMES, LAST_NAMES, place_names

JOBS = [("doctor", "physician"), ("lawyer", "attorney"), ("teacher", "educator"),
        ("cook", "chef"), ("pilot", "aviator"), ("sailor", "mariner"), ("writer", "author"),
        ("painter", "artist"), ("farmer", "grower"), ("tailor", "dressmaker")]  # fmt: skip


def job_corpus(n_docs: int = 2_000, n_queries: int = 10, seed: int = 0):
    rng = random.Random(f"jobs-{seed}")
    towns = place_names(rng, 40)
    names = [f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}" for _ in range(n_docs)]
    docs, owners = [], {}
    for i, name in enumerate(names):
        job, synonym = rng.choice(JOBS)
        town = rng.choice(towns)
        if i % 4 == 3:  # distractors: the query's synonym, but not where the person works
            text = f"{name} once met a {synonym} on a trip to {rng.choice(towns)}."
        else:
            text = f"{name} works as a {job} in {town}."
            owners.setdefault((synonym, town), []).append(f"p{i}")
        docs.append({"doc_id": f"p{i}", "content": text})
    unique = sorted(k for k, v in owners.items() if len(v) == 1)
    picks = rng.sample(unique, n_queries)
    queries = [(f"Which {syn} lives in {town}?", owners[(syn, town)][0]) for syn, town in picks]
    return docs, queries


def quality(backend: str, backend_kwargs: dict[str, Any], n_queries: int, workdir: Path):
    from rlm.retrieval import (
        ListwiseReranker,
        LocalIndex,
        QueryRewriter,
        ndcg_at_k,
        recall_at_k,
        reciprocal_rank_fusion,
        union_pool,
    )

    docs, queries = job_corpus(n_queries=n_queries)
    index = LocalIndex(workdir / "jobs")
    index.add(docs)
    rewriter = QueryRewriter(backend, n=3, model_kwargs=backend_kwargs, max_tokens=150)
    reranker = ListwiseReranker(
        backend,
        window_size=10,
        step=5,
        max_passage_chars=150,
        model_kwargs=backend_kwargs,
        max_tokens=80,
    )
    totals: dict[str, dict[str, float]] = {
        k: {"recall@10": 0.0, "ndcg@10": 0.0, "seconds": 0.0}
        for k in ("bm25", "bm25+rewriter", "bm25+rewriter+listwise")
    }
    per_query = []
    for query, relevant in queries:
        qrels = {relevant: 1}
        start = time.perf_counter()
        base = index.search(query, 10)
        t_base = time.perf_counter() - start
        rewrites = rewriter.rewrite(query)
        lists = [base] + [index.search(r, 10) for r in rewrites]
        fused = reciprocal_rank_fusion(lists, 10)  # the rewriter alone: lists fused by rank
        t_pool = time.perf_counter() - start
        pool = union_pool(lists)[:20]  # the original query's hits first
        reranked = reranker.rerank(query, pool, top_k=10)
        t_rerank = time.perf_counter() - start
        runs = {"bm25": (base, t_base), "bm25+rewriter": (fused, t_pool),
                "bm25+rewriter+listwise": (reranked, t_rerank)}  # fmt: skip
        row = {"query": query, "relevant": relevant, "rewrites": rewrites}
        for name, (hits, seconds) in runs.items():
            ids = [h["doc_id"] for h in hits]
            totals[name]["recall@10"] += recall_at_k(ids, qrels, 10) / len(queries)
            totals[name]["ndcg@10"] += ndcg_at_k(ids, qrels, 10) / len(queries)
            totals[name]["seconds"] += seconds / len(queries)
            row[name] = ids[:10]
        per_query.append(row)
        print(f"[quality] {query} -> rewrites {rewrites}", flush=True)
    calls = {"bm25": 0, "bm25+rewriter": rewriter.calls,
             "bm25+rewriter+listwise": rewriter.calls + reranker.calls}  # fmt: skip
    rows = [{"method": k, **v, "model_calls": calls[k]} for k, v in totals.items()]
    return rows, per_query, len(docs)


def browsecomp(backend: str, backend_kwargs: dict[str, Any], n_tasks: int, workdir: Path):
    from rlm import RLM
    from rlm.clients import get_client
    from rlm.retrieval import LocalIndex

    client = get_client(backend, dict(backend_kwargs))
    rows = []
    for seed in range(n_tasks):
        task = make_browsecomp(60_000, seed=seed)
        index = LocalIndex(workdir / f"bc{seed}")
        index.add([{"doc_id": f"doc-{i}", "content": d} for i, d in enumerate(task.context)])
        start = time.perf_counter()
        hits = index.search(task.question, 5)
        passages = "\n\n".join(index.get(h["doc_id"])["content"][:600] for h in hits)
        prompt = f"Documents:\n{passages}\n\nQuestion: {task.question}\nAnswer briefly."
        plain = client.complete(prompt).text
        rows.append(_bc_row(task, "plain (top-5 BM25 in the prompt)", plain, start))
        start = time.perf_counter()
        rlm = RLM(backend=client, retriever=index, max_iterations=8, max_timeout=600)
        try:
            answer = rlm.completion(root_prompt=task.question).response
        except Exception as exc:  # a limit or model failure is a wrong answer, recorded
            answer = f"<{type(exc).__name__}: {exc}>"
        rows.append(_bc_row(task, "rlm (es_search / es_get)", answer, start))
        print(f"[browsecomp] seed {seed}: gold {task.gold!r}; {rows[-2]['answer'][:60]!r} | "
              f"{rows[-1]['answer'][:60]!r}", flush=True)  # fmt: skip
    return rows


def _bc_row(task: Any, method: str, answer: str, start: float) -> dict[str, Any]:
    return {"task": task.task_id, "hops": task.meta["hops"], "method": method,
            "gold": task.gold, "answer": answer.strip()[:300], "score": task.score(answer),
            "seconds": time.perf_counter() - start}  # fmt: skip


def main(args: Any, command: str, part: str = "quality") -> None:
    """`quality` (queries over the job corpus) or `browsecomp`, each to its own result file."""
    backend_kwargs = json.loads(args.backend_kwargs)
    with tempfile.TemporaryDirectory(prefix="rlm-retrieval-quality-", dir=args.workdir) as tmp:
        if part == "quality":
            rows, per_query, n_docs = quality(args.backend, backend_kwargs, args.queries, Path(tmp))
            table = markdown_table(
                ["method", "recall@10", "nDCG@10", "model calls", "s / query"],
                [[r["method"], r["recall@10"], r["ndcg@10"], r["model_calls"], r["seconds"]]
                 for r in rows],
            )  # fmt: skip
            table += f"\n\n{len(per_query)} queries over {n_docs:,} documents, one relevant each."
            rows = [*rows, {"per_query": per_query}]
            title = "Retrieval quality: BM25 vs BM25 + query rewriter + listwise rerank"
        else:
            rows = browsecomp(args.backend, backend_kwargs, args.tasks, Path(tmp))
            table = markdown_table(
                ["task", "hops", "method", "score", "s", "gold", "answer"],
                [[r["task"], r["hops"], r["method"], r["score"], r["seconds"], r["gold"],
                  r["answer"][:80].replace("|", "/").replace("\n", " ")] for r in rows],
            )  # fmt: skip
            title = "BrowseComp-style questions over a LocalIndex: plain RAG vs RLM"
    meta = header(
        f"retrieval-{part}",
        title=title,
        command=command,
        backend=args.backend,
        backend_kwargs=backend_kwargs,
        notes=__doc__,
    )
    write_results(args.name or f"retrieval-{part}", meta, rows, table)
    print(table)
