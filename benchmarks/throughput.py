"""Sub-call throughput with a zero-latency model: llm_query calls per second through each
environment's path to the host (our broker; the reference's LM handler socket), measured
inside the REPL so only the sub-call path is timed: N sequential `llm_query` calls, then
one `llm_query_batched` of M prompts."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from benchmarks import engines
from benchmarks.common import header, markdown_table, write_results

GRIDS: dict[str, dict[str, int]] = {
    "smoke": {"n_sequential": 20, "n_batched": 50, "repeats": 1},
    "default": {"n_sequential": 500, "n_batched": 2000, "repeats": 3},
    "full": {"n_sequential": 5000, "n_batched": 20000, "repeats": 5},
}


def measure(engine_envs: list[tuple[str, str]], grid: dict[str, int]) -> list[dict]:
    rows = []
    for engine, env in engine_envs:
        best_seq = best_batch = float("inf")
        ok = True
        for _ in range(grid["repeats"]):  # best of N: throughput is a capability
            out = engines.run(
                engine,
                {
                    "mode": "throughput",
                    "env": env,
                    "n_sequential": grid["n_sequential"],
                    "n_batched": grid["n_batched"],
                    "concurrency": 16,
                },
            )
            if not out.get("ok"):
                ok = False
                print(f"throughput {engine} {env} failed: {out}", file=sys.stderr)
                continue
            best_seq = min(best_seq, out["sequential_s"])
            best_batch = min(best_batch, out["batched_s"])
        row = {
            "engine": engine,
            "env": env,
            "n_sequential": grid["n_sequential"],
            "n_batched": grid["n_batched"],
            "sequential_calls_per_s": grid["n_sequential"] / best_seq if ok else None,
            "batched_calls_per_s": grid["n_batched"] / best_batch if ok else None,
            "ok": ok,
        }
        rows.append(row)
        print(f"throughput {engine:9s} {env:18s} {row}", file=sys.stderr)
    return rows


def table(rows: list[dict]) -> str:
    from benchmarks.engine_overhead import MATCHED_ENVIRONMENTS

    body: list[list[Any]] = []
    for r in rows:
        body.append(
            [
                r["engine"],
                r["env"],
                r["sequential_calls_per_s"],
                r["batched_calls_per_s"],
                "" if r["ok"] else "FAILED",
            ]
        )
    text = markdown_table(
        [
            "engine",
            "environment",
            "llm_query calls/s (sequential)",
            "llm_query_batched calls/s",
            "note",
        ],
        body,
    )
    by = {(r["engine"], r["env"]): r for r in rows if r["ok"]}
    lines = []
    for ours_env, ref_env in MATCHED_ENVIRONMENTS:
        ours, ref = by.get(("ours", ours_env)), by.get(("reference", ref_env))
        if ours and ref:
            lines.append(
                f"- ours `{ours_env}` / reference `{ref_env}`: sequential "
                f"{ours['sequential_calls_per_s'] / ref['sequential_calls_per_s']:.2f}x, "
                f"batched {ours['batched_calls_per_s'] / ref['batched_calls_per_s']:.2f}x"
            )
    if lines:
        text += "\n\nMatched environments (above 1 means ours is faster):\n\n" + "\n".join(lines)
    return text


def main(
    grid_name: str,
    engine_names: list[str],
    envs: list[str] | None,
    name: str,
    out_dir: Path | None = None,
    command: str | None = None,
) -> list[dict]:
    grid = GRIDS[grid_name]
    engine_envs = [(e, env) for e in engine_names for env in engines.environments(e, envs)]
    rows = measure(engine_envs, grid)
    meta = header(
        "throughput",
        title="Sub-call throughput with a zero-latency model",
        grid=grid_name,
        grid_values=grid,
        engines={e: engines.run(e, {"mode": "version"}) for e in engine_names},
        command=command or f"python -m benchmarks throughput --grid {grid_name}",
        notes=(
            "Timed inside the REPL with time.perf_counter; best of the repeats. The model "
            "returns immediately (sync and async paths alike), so this is the cost of the "
            "call path itself; max_concurrent_subcalls = 16 in both engines."
        ),
    )
    write_results(name, meta, rows, table(rows), out_dir)
    return rows
