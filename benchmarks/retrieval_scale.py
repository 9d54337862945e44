"""Index build speed, size, open time, query latency and memory at 10k / 100k / 1M generated
documents: our embedded index against bm25s and rank-bm25 (and SQLite FTS5, the other
embedded candidate) in the same run. Every system builds in one fresh process and is queried
in another, so peak RSS is each phase's own.

rank-bm25 and FTS5 run only up to 100k documents: rank-bm25 scores every document per query
in Python/numpy and has no on-disk index; FTS5 ranks every match of a query (100+ ms per query
at 100k), so at 1M both would take most of an hour and say nothing new.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import header, markdown_table, write_results

SIZES = {
    "smoke": [2_000],
    "default": [10_000, 100_000, 1_000_000],
    "small": [10_000, 100_000],
    "1m": [1_000_000],
}
SMALL_ONLY = {"rank-bm25": 100_000, "sqlite-fts5": 100_000}
QUERIES = 200


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb(field: str = "VmRSS") -> float:
    """Resident memory (MB): VmRSS in all, RssAnon the process's own, RssFile the file pages
    it has mapped (for a memory-mapped index: page cache the kernel can drop)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _disk_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _time_queries(system: Any, queries: list[str]) -> dict[str, float]:
    for q in queries[:5]:  # warm-up: first-touch costs are the open's, not the query's
        system.query(q)
    times, cpu = [], []
    for q in queries:
        start, start_cpu = time.perf_counter(), time.process_time()
        system.query(q)
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    # Wall time is what a caller waits; CPU time is what the query costs, which on a shared
    # machine (other processes queueing for the cores) is the part that is the engine's.
    return {
        "p50_ms": _percentile(times, 0.5),
        "p99_ms": _percentile(times, 0.99),
        "cpu_p50_ms": _percentile(cpu, 0.5),
        "cpu_p99_ms": _percentile(cpu, 0.99),
    }


def worker(system_name: str, phase: str, n: int, directory: Path) -> dict[str, Any]:
    from benchmarks.retrieval_corpus import sample_queries, synthetic_docs
    from benchmarks.retrieval_systems import SYSTEMS

    system = SYSTEMS[system_name]()
    if phase == "build":
        docs = synthetic_docs(n)
        queries = sample_queries(docs, QUERIES)
        # The query process reads them: generating the corpus there would leave its memory
        # in the allocator and count it as the index's.
        (directory / "queries.json").write_text(json.dumps(queries))
        before = _rss_mb()
        start = time.perf_counter()
        system.build(docs, directory)
        seconds = time.perf_counter() - start
        out = {
            "build_s": seconds,
            "docs_per_s": n / seconds,
            "disk_mb": _disk_mb(directory),
            "build_peak_rss_mb": _peak_mb(),
            "corpus_rss_mb": before,
        }
        if getattr(system, "in_memory_only", False):
            out.update(_time_queries(system, queries), query_rss_mb=_rss_mb(), open_ms=0.0)
        return out
    queries = json.loads((directory / "queries.json").read_text())
    system.load()  # imports are not part of opening an index
    start = time.perf_counter()
    system.open(directory)
    open_ms = (time.perf_counter() - start) * 1000
    timing = _time_queries(system, queries)
    return {
        "open_ms": open_ms,
        **timing,
        "query_rss_mb": _rss_mb(),
        "query_rss_anon_mb": _rss_mb("RssAnon"),
        "query_rss_file_mb": _rss_mb("RssFile"),
        "query_peak_rss_mb": _peak_mb(),
    }


def _run_worker(system: str, phase: str, n: int, directory: Path) -> dict[str, Any]:
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.retrieval_scale",
        "--worker",
        system,
        phase,
        str(n),
        str(directory),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).parents[1])
    if done.returncode != 0:
        raise RuntimeError(f"{system} {phase} at {n}: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(
    sizes: list[int], systems: list[str], workdir: Path | None, keep: bool = False
) -> tuple[list[dict], list[str]]:
    rows, notes = [], []
    for n in sizes:
        for system in systems:
            limit = SMALL_ONLY.get(system)
            if limit is not None and n > limit:
                notes.append(f"{system} skipped at {n:,} documents (see the module docstring)")
                continue
            if keep and workdir is not None:  # build once, query again in later runs
                directory = workdir / f"{system}-{n}"
                directory.mkdir(parents=True, exist_ok=True)
            else:
                directory = Path(tempfile.mkdtemp(prefix=f"rlm-retr-{system}-", dir=workdir))
            try:
                saved = directory / "build.json"
                if saved.exists():
                    built = json.loads(saved.read_text())
                    notes.append(f"{system} at {n:,}: index and build numbers reused from {saved}")
                else:
                    print(f"[retrieval] {system} at {n:,}: build", file=sys.stderr, flush=True)
                    built = _run_worker(system, "build", n, directory)
                    if keep:
                        saved.write_text(json.dumps(built))
                row = {"system": system, "docs": n, **built}
                if "p99_ms" not in row:
                    print(
                        f"[retrieval] {system} at {n:,} documents: query",
                        file=sys.stderr,
                        flush=True,
                    )
                    row.update(_run_worker(system, "query", n, directory))
                rows.append(row)
            finally:
                if not keep:
                    shutil.rmtree(directory, ignore_errors=True)
    return rows, notes


def ratios(rows: list[dict[str, Any]]) -> list[list[Any]]:
    out = []
    for n in sorted({r["docs"] for r in rows}):
        ours = next((r for r in rows if r["docs"] == n and r["system"] == "ours"), None)
        base = next((r for r in rows if r["docs"] == n and r["system"] == "bm25s"), None)
        if ours and base:
            out.append(
                [
                    f"{n:,}",
                    ours["docs_per_s"] / base["docs_per_s"],
                    base["p99_ms"] / ours["p99_ms"],
                    base["query_rss_mb"] / ours["query_rss_mb"],
                    ours["disk_mb"] / base["disk_mb"],
                ]
            )
    return out


def main(
    grid: str,
    systems: list[str],
    name: str,
    command: str,
    workdir: str | None,
    keep: bool = False,
) -> None:
    rows, notes = measure(SIZES[grid], systems, Path(workdir) if workdir else None, keep)
    columns = ["docs", "system", "build docs/s", "build s", "disk MB", "build peak RSS MB",
               "open ms", "query p50 ms", "query p99 ms", "CPU p50 / p99 ms", "RSS querying MB",
               "of which anon / file MB"]  # fmt: skip
    table = markdown_table(
        columns,
        [
            [f"{r['docs']:,}", r["system"], r["docs_per_s"], r["build_s"], r["disk_mb"],
             r["build_peak_rss_mb"], r["open_ms"], r["p50_ms"], r["p99_ms"],
             f"{r.get('cpu_p50_ms', float('nan')):.2f} / {r.get('cpu_p99_ms', float('nan')):.1f}",
             r["query_rss_mb"],
             f"{r.get('query_rss_anon_mb', float('nan')):.0f} / "
             f"{r.get('query_rss_file_mb', float('nan')):.0f}"]
            for r in rows
        ],
    )  # fmt: skip
    table += "\n\nOurs against bm25s in this run (higher is better for ours, except disk):\n\n"
    table += markdown_table(
        ["docs", "build speed (x bm25s)", "p99 latency (bm25s / ours)",
         "RSS querying (bm25s / ours)", "disk (ours / bm25s)"],
        ratios(rows),
    )  # fmt: skip
    meta = header(
        "retrieval-scale",
        title="Retrieval: embedded index vs bm25s / rank-bm25 / SQLite FTS5",
        command=command,
        grid=grid,
        notes="\n".join(
            [
                "Corpus: generated documents of 20-120 words over a 30,000-word vocabulary with "
                f"Zipf-like frequencies; {QUERIES} queries of 1-3 words taken from documents "
                "across the corpus (after 5 warm-up queries). Build time excludes generating "
                "the corpus; build peak RSS includes holding it. Open and query run in a fresh "
                "process on the saved index (rank-bm25 has none: built and queried in one). RSS 'anon' is "
                "the process's own memory; 'file' is pages of the memory-mapped index it has "
                "touched (page cache, shared and reclaimable).",
                *notes,
            ]
        ),
    )
    write_results(name, meta, rows, table)
    print(table)


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--worker":
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        print(json.dumps(worker(sys.argv[2], sys.argv[3], int(sys.argv[4]), Path(sys.argv[5]))))
