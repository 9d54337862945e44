"""Shared plumbing: machine and commit description, result files, memory probes."""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"


def commit() -> dict[str, Any]:
    """The commit measured, and whether the tree had uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                # result files being rewritten by this very run do not make the code dirty
                [
                    "git",
                    "status",
                    "--porcelain",
                    "--untracked-files=no",
                    "--",
                    ".",
                    ":!benchmarks/results",
                ],
                cwd=REPO,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        print(
            f"benchmarks: cannot read the git commit ({exc}); recording 'unknown'", file=sys.stderr
        )
        return {"commit": "unknown", "dirty": None}
    return {"commit": head, "dirty": dirty}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def machine() -> dict[str, Any]:
    # Other work on the machine skews timings: record how busy it was when results were written.
    return {
        "load_average_1_5_15min": [round(x, 2) for x in os.getloadavg()],
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": _mem_total_gb(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def header(kind: str, **extra: Any) -> dict[str, Any]:
    return {
        "benchmark": kind,
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        **commit(),
        "machine": machine(),
        **extra,
    }


def rss_mb() -> float:
    """Current resident set size of this process (MB)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def peak_rss_mb() -> tuple[float, float]:
    """Peak RSS (MB) of this process and of its largest finished child process."""
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return self_kb / 1024, child_kb / 1024


def markdown_table(columns: list[str], rows: list[list[Any]]) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            if value != value:  # NaN
                return "n/a"
            return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
        return "" if value is None else str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def describe_header(meta: dict[str, Any]) -> str:
    m = meta["machine"]
    dirty = " (uncommitted changes)" if meta.get("dirty") else ""
    return (
        f"Commit `{meta['commit'][:12]}`{dirty}, {meta['date']}; {m['cpu']}, {m['cores']} cores, "
        f"{m['memory_gb']} GB RAM, {m['os']}, Python {m['python']}; load average "
        f"{'/'.join(str(x) for x in m.get('load_average_1_5_15min', []))} (1/5/15 min) when written."
    )


def write_results(
    name: str,
    meta: dict[str, Any],
    rows: list[dict[str, Any]],
    table: str,
    out_dir: Path | None = None,
) -> tuple[Path, Path]:
    """`<name>.json` (everything) and `<name>.md` (the table with its commit and machine)."""
    out = out_dir or RESULTS
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / f"{name}.json"
    md_path = out / f"{name}.md"
    json_path.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    title = meta.get("title", name)
    md_path.write_text(
        f"# {title}\n\n{describe_header(meta)}\n\nReproduce: `{meta.get('command', '')}`\n\n"
        f"{table}\n" + (f"\n{meta['notes']}\n" if meta.get("notes") else "")
    )
    return json_path, md_path
