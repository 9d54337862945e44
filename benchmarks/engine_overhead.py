"""Engine overhead: wall time as a ratio to the ideal critical path, ours beside the reference.

Grid: iterations x batch size x latency x environment. The simulated root model and every
sub-call take `latency` seconds; each iteration sends one batch of `batch` sub-calls through
`llm_query_batched`. With fully parallel batches nothing can finish sooner than
    ideal = iterations x (root latency + sub latency)
so `ratio = wall / ideal` is 1.0 for a perfect engine, and everything above is the engine:
prompt building, REPL start-up and execution, broker round trips, thread hand-offs, and
batches that are not fully parallel (concurrency is set to the batch size in both engines).
"""

from __future__ import annotations

import math
import statistics
import sys
from pathlib import Path
from typing import Any

from benchmarks import engines
from benchmarks.common import header, markdown_table, write_results

GRIDS: dict[str, dict[str, list[Any]]] = {
    "smoke": {"iterations": [1], "batch": [2], "latency": [0.01], "repeats": [1]},
    "default": {"iterations": [1, 5], "batch": [1, 8, 32], "latency": [0.05, 0.2], "repeats": [2]},
    "full": {
        "iterations": [1, 3, 10],
        "batch": [1, 4, 16, 64],
        "latency": [0.01, 0.05, 0.2, 1.0],
        "repeats": [3],
    },
}


# ours -> the reference's nearest equivalents. In process: our `local`, its `local` and its
# default IPython (an in-process shell). Out of process: our `sandbox` and `ipython` (the
# locked-down worker, the latter running cells through IPython) against its Jupyter kernel
# subprocess, the only out-of-process environment of the reference that runs here.
MATCHED_ENVIRONMENTS = [
    ("local", "local"),
    ("local", "ipython"),
    ("sandbox", "ipython:subprocess"),
    ("ipython", "ipython:subprocess"),
]


def measure(engine_envs: list[tuple[str, str]], grid: dict[str, list[Any]]) -> list[dict]:
    rows = []
    repeats = grid["repeats"][0]
    for engine, env in engine_envs:
        for iterations in grid["iterations"]:
            for batch in grid["batch"]:
                for latency in grid["latency"]:
                    request = {
                        "mode": "overhead",
                        "env": env,
                        "iterations": iterations,
                        "batch": batch,
                        "root_latency": latency,
                        "sub_latency": latency,
                        "repeats": repeats,
                    }
                    runs = engines.run(engine, request)
                    walls = [r["wall_s"] for r in runs]
                    ideal = iterations * 2 * latency
                    wall = statistics.median(walls)
                    rows.append(
                        {
                            "engine": engine,
                            "env": env,
                            "iterations": iterations,
                            "batch": batch,
                            "latency_s": latency,
                            "ideal_s": ideal,
                            "wall_s": wall,
                            "walls_s": walls,
                            "ratio": wall / ideal,
                            "overhead_ms_per_iteration": (wall - ideal) / iterations * 1000,
                            "ok": all(r["ok"] for r in runs),
                            "sub_calls": runs[0]["sub_calls"],
                        }
                    )
                    print(
                        f"overhead {engine:9s} {env:18s} it={iterations:2d} batch={batch:2d} "
                        f"lat={latency:.2f}s ideal={ideal:.2f}s wall={wall:.3f}s "
                        f"ratio={wall / ideal:.2f}",
                        file=sys.stderr,
                    )
    return rows


def geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def table(rows: list[dict]) -> str:
    """One line per grid point, one ratio column per engine/environment."""
    columns = sorted({(r["engine"], r["env"]) for r in rows}, key=lambda c: (c[0] != "ours", c))
    points = sorted({(r["iterations"], r["batch"], r["latency_s"]) for r in rows})
    by_key = {(r["engine"], r["env"], r["iterations"], r["batch"], r["latency_s"]): r for r in rows}
    head = ["iterations", "batch", "latency (s)", "ideal (s)"] + [
        f"{e} {env}" for e, env in columns
    ]
    body = []
    for it, batch, lat in points:
        line: list[Any] = [it, batch, lat, it * 2 * lat]
        for engine, env in columns:
            r = by_key.get((engine, env, it, batch, lat))
            line.append(
                "" if r is None else f"{r['ratio']:.2f}x" + ("" if r["ok"] else " (FAILED)")
            )
        body.append(line)
    summary: list[Any] = ["geometric mean", "", "", ""]
    for engine, env in columns:
        summary.append(
            f"**{geomean([r['ratio'] for r in rows if (r['engine'], r['env']) == (engine, env)]):.2f}x**"
        )
    body.append(summary)
    text = (
        "Wall time / ideal critical path (lower is better, 1.00x is perfect):\n\n"
        + markdown_table(head, body)
    )
    pairs = []
    for ours_env, ref_env in MATCHED_ENVIRONMENTS:
        ours = [r["ratio"] for r in rows if (r["engine"], r["env"]) == ("ours", ours_env)]
        ref = [r["ratio"] for r in rows if (r["engine"], r["env"]) == ("reference", ref_env)]
        if ours and ref:
            pairs.append(
                f"- ours `{ours_env}` {geomean(ours):.2f}x vs reference `{ref_env}` "
                f"{geomean(ref):.2f}x: reference wall time / ours = "
                f"{geomean(ref) / geomean(ours):.2f} (geometric mean over the grid)"
            )
    if pairs:
        text += "\n\nMatched environments:\n\n" + "\n".join(pairs)
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
        "overhead",
        title="Engine overhead against the ideal critical path",
        grid=grid_name,
        grid_values=grid,
        engines={e: engines.run(e, {"mode": "version"}) for e in engine_names},
        command=command or f"python -m benchmarks overhead --grid {grid_name}",
        notes=(
            "Simulated models (root and sub-calls each sleep `latency`); ideal = iterations x "
            "2 x latency. Both engines run in fresh processes with the same scripted replies "
            "(benchmarks/sim_scripts.py); max_concurrent_subcalls = batch size in both. "
            "The reference's `llm_query_batched` runs at most 16 prompts at once whatever "
            "max_concurrent_subcalls says (its LMHandler's fixed batch_max_concurrent), which "
            "shows at batch 32. Its per-completion cost also includes stopping its socket "
            "server (socketserver.shutdown waits for a 0.5 s poll)."
        ),
    )
    write_results(name, meta, rows, table(rows), out_dir)
    return rows
