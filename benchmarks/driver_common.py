"""Measurement procedures shared by both engine drivers (stdlib only).

`_ours_driver.py` and `_reference_driver.py` each supply one function,
`run(sim, context, env, max_iterations, concurrency) -> (response_text, wall_seconds)`, and
everything else, what is run, what is timed, how peak memory is read, is this file, so the
two engines are measured by the same procedure. Each request runs in a fresh process (peak
RSS is per process), answering one JSON document on stdout.
"""

from __future__ import annotations

import json
import resource
import sys
from collections.abc import Callable
from typing import Any

from sim_scripts import (  # type: ignore[import-not-found]  # imported from this folder
    CONTEXT_REPLY,
    SimModel,
    overhead_model,
    throughput_reply,
)

Runner = Callable[[SimModel, Any, str, int, int], tuple[str, float]]


def overhead(run: Runner, req: dict) -> list[dict]:
    rows = []
    for _ in range(req["repeats"]):
        sim = overhead_model(
            req["iterations"], req["batch"], req["root_latency"], req["sub_latency"]
        )
        response, wall = run(sim, "bench context", req["env"], req["iterations"] + 1, req["batch"])
        rows.append(
            {
                "wall_s": wall,
                "ok": response.startswith("done"),
                "root_calls": sim.root_calls,
                "sub_calls": sim.sub_calls,
                "response": response[:200],
            }
        )
    return rows


def throughput(run: Runner, req: dict) -> dict:
    sim = SimModel([throughput_reply(req["n_sequential"], req["n_batched"])])
    response, wall = run(sim, "bench context", req["env"], 2, req.get("concurrency", 16))
    try:
        seq_s, batch_s = (float(x) for x in response.split())
    except ValueError:
        return {"ok": False, "response": response[:500], "wall_s": wall}
    return {
        "ok": True,
        "sequential_s": seq_s,
        "batched_s": batch_s,
        "wall_s": wall,
        "sub_calls": sim.sub_calls,
    }


def make_context(mb: float) -> str:
    """`mb` MiB of text, built with a single allocation of the final size: a transient second
    copy here would count in the peak RSS and be blamed on the engine."""
    size = int(mb * 1024 * 1024)
    line = "The quick brown fox jumps over the lazy dog. 0123456789\n"
    block = (line * (65536 // len(line) + 1))[:65536]
    whole, rest = divmod(size, len(block))
    return "".join([block] * whole + [block[:rest]])


def context(run: Runner, req: dict) -> dict:
    text = make_context(req["mb"])
    before = rss_mb()
    sim = SimModel([CONTEXT_REPLY])
    response, wall = run(sim, text, req["env"], 2, 4)
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "ok": response.strip() == str(len(text)),
        "response": response[:100],
        "load_s": wall,
        "rss_before_mb": before,
        "peak_rss_mb": self_kb / 1024,
        "peak_child_rss_mb": child_kb / 1024,
    }


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def serve(run: Runner, describe: Callable[[], dict]) -> None:
    """Read one request from stdin, answer on stdout; engine prints go to stderr."""
    request = json.loads(sys.stdin.read())
    out = sys.stdout
    sys.stdout = sys.stderr
    mode = request["mode"]
    if mode == "overhead":
        payload: Any = overhead(run, request)
    elif mode == "throughput":
        payload = throughput(run, request)
    elif mode == "context":
        payload = context(run, request)
    elif mode == "version":
        payload = describe()
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    out.write(json.dumps(payload) + "\n")
    out.flush()
