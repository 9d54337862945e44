"""Context scale: time to load a context and run one trivial iteration, and peak memory, from
1 MB to 1 GB, per environment, ours beside the reference.

Each point runs in a fresh process, so peak RSS (getrusage ru_maxrss) belongs to that point
alone: the host process's peak, and the largest finished child's (an out-of-process worker).
`rss_before_mb` is the process right after building the context string, so the context
itself is already counted there; "extra per MB" is what the engine adds on top.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from benchmarks import engines
from benchmarks.common import header, markdown_table, write_results

GRIDS: dict[str, list[float]] = {
    "smoke": [1],
    "default": [1, 10, 100],
    "full": [1, 10, 100, 1024],
}


def measure(engine_envs: list[tuple[str, str]], sizes: list[float]) -> list[dict]:
    rows = []
    for engine, env in engine_envs:
        for mb in sizes:
            try:
                out = engines.run(engine, {"mode": "context", "env": env, "mb": mb}, timeout=1800)
            except Exception as exc:  # record the failure as a result, then go on
                print(f"context {engine} {env} {mb} MB failed: {exc}", file=sys.stderr)
                rows.append(
                    {"engine": engine, "env": env, "mb": mb, "ok": False, "error": str(exc)[-500:]}
                )
                continue
            peak_total = out["peak_rss_mb"] + out["peak_child_rss_mb"]
            row = {
                "engine": engine,
                "env": env,
                "mb": mb,
                **out,
                "peak_total_mb": peak_total,
                "extra_mb_per_mb": (peak_total - out["rss_before_mb"]) / mb,
            }
            rows.append(row)
            print(
                f"context {engine:9s} {env:18s} {mb:6g} MB load={out['load_s']:.3f}s "
                f"peak={peak_total:.0f} MB ok={out['ok']}",
                file=sys.stderr,
            )
    return rows


def table(rows: list[dict]) -> str:
    body: list[list[Any]] = []
    for r in rows:
        if not r.get("ok", False) and "load_s" not in r:
            body.append(
                [r["engine"], r["env"], r["mb"], "FAILED", "", "", "", r.get("error", "")[:80]]
            )
            continue
        body.append(
            [
                r["engine"],
                r["env"],
                r["mb"],
                r["load_s"],
                r["peak_rss_mb"],
                r["peak_child_rss_mb"],
                r["extra_mb_per_mb"],
                "" if r["ok"] else "wrong answer",
            ]
        )
    text = markdown_table(
        [
            "engine",
            "environment",
            "context (MB)",
            "load + 1 iteration (s)",
            "peak host RSS (MB)",
            "peak worker RSS (MB)",
            "extra MB per context MB",
            "note",
        ],
        body,
    )
    from benchmarks.engine_overhead import MATCHED_ENVIRONMENTS

    by = {(r["engine"], r["env"], r["mb"]): r for r in rows if r.get("ok")}
    lines = []
    for ours_env, ref_env in MATCHED_ENVIRONMENTS:
        sizes = sorted(mb for (e, env, mb) in by if e == "ours" and env == ours_env)
        sizes = [mb for mb in sizes if ("reference", ref_env, mb) in by]
        if not sizes:
            continue
        mb = sizes[-1]
        ours, ref = by[("ours", ours_env, mb)], by[("reference", ref_env, mb)]
        lines.append(
            f"- at {mb:g} MB, ours `{ours_env}` vs reference `{ref_env}`: load "
            f"{ours['load_s']:.3g} s vs {ref['load_s']:.3g} s; peak memory (host + worker) "
            f"{ours['peak_total_mb']:.0f} MB vs {ref['peak_total_mb']:.0f} MB "
            f"({ref['peak_total_mb'] / ours['peak_total_mb']:.2f}x)"
        )
    if lines:
        text += "\n\nMatched environments:\n\n" + "\n".join(lines)
    return text


def main(
    grid_name: str,
    engine_names: list[str],
    envs: list[str] | None,
    name: str,
    out_dir: Path | None = None,
    command: str | None = None,
) -> list[dict]:
    sizes = GRIDS[grid_name]
    engine_envs = [(e, env) for e in engine_names for env in engines.environments(e, envs)]
    rows = measure(engine_envs, sizes)
    meta = header(
        "context",
        title="Context scale: load time and peak memory",
        grid=grid_name,
        sizes_mb=sizes,
        engines={e: engines.run(e, {"mode": "version"}) for e in engine_names},
        command=command or f"python -m benchmarks context --grid {grid_name}",
        notes=(
            "A plain-text context of the given size is passed to completion(); the scripted "
            "model answers len(context) in its first iteration (checked). Extra MB per context "
            "MB = (peak host + peak worker - RSS after building the context) / size: 0 means "
            "no copy at all, 1 means one extra copy."
        ),
    )
    write_results(name, meta, rows, table(rows), out_dir)
    return rows
