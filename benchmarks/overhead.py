"""Engine overhead against the ideal critical path (issue 2's acceptance check).

Five iterations; each root turn (20 ms simulated model) runs a block calling
llm_query_batched on 64 prompts (20 ms each, all in parallel), over a 20 MB context. The ideal
is what the models alone cost on the critical path: 5 x (20 ms root + 20 ms batch) = 200 ms.
The ratio is the engine's wall time over that ideal; target <= 1.10 with `local`.

    python benchmarks/overhead.py [--environment local] [--repeats 5]

Writes benchmarks/results/overhead.json and prints the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rlm import RLM

ITERATIONS = 5
BATCH = 64
LATENCY = 0.020
CONTEXT_BYTES = 20 * 1024 * 1024
RESULTS = Path(__file__).resolve().parent / "results"


def root_model(messages):
    time.sleep(LATENCY)
    turn = sum(1 for m in messages if m["role"] == "assistant") + 1
    code = f"out = llm_query_batched([f'chunk {{i}}' for i in range({BATCH})])\n"
    if turn == ITERATIONS:
        code += "FINAL(len(out))\n"
    return f"Turn {turn}.\n```repl\n{code}```"


async def sub_model(messages):
    # An async model, as provider SDKs' async clients are: sub-calls share one event loop.
    await asyncio.sleep(LATENCY)
    return "ok"


def sync_sub_model(messages):
    # A blocking model: each in-flight sub-call holds a pool thread.
    time.sleep(LATENCY)
    return "ok"


def one_run(environment: str, context: str, sub=sub_model) -> float:
    rlm = RLM(
        backend="function",
        backend_kwargs={"function": root_model, "model_name": "root-sim"},
        other_backends=["function"],
        other_backend_kwargs=[{"function": sub, "model_name": "sub-sim"}],
        environment=environment,
        max_concurrent_subcalls=BATCH,
    )
    start = time.perf_counter()
    result = rlm.completion(context)
    elapsed = time.perf_counter() - start
    assert result.response == str(BATCH), result.response
    calls = result.usage_summary.model_usage_summaries
    assert calls["sub-sim"].total_calls == ITERATIONS * BATCH
    assert calls["root-sim"].total_calls == ITERATIONS
    rlm.close()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--environment", default="local")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    context = "x" * CONTEXT_BYTES
    one_run(args.environment, context)  # warm-up: imports, thread pools
    times = [one_run(args.environment, context) for _ in range(args.repeats)]
    one_run(args.environment, context, sync_sub_model)
    sync_times = [one_run(args.environment, context, sync_sub_model) for _ in range(args.repeats)]
    ideal = ITERATIONS * (LATENCY + LATENCY)
    median = statistics.median(times)
    ratio = median / ideal
    sync_ratio = statistics.median(sync_times) / ideal
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    record = {
        "benchmark": "overhead",
        "environment": args.environment,
        "iterations": ITERATIONS,
        "batch": BATCH,
        "latency_s": LATENCY,
        "context_bytes": CONTEXT_BYTES,
        "ideal_s": ideal,
        "wall_s": times,
        "median_s": median,
        "ratio": ratio,
        "sync_sub_model_wall_s": sync_times,
        "sync_sub_model_ratio": sync_ratio,
        "target": 1.10,
        "commit": commit,
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "processor": platform.machine(),
        },
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"overhead-{args.environment}.json"
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(
        f"environment={args.environment} ideal={ideal * 1000:.0f} ms "
        f"median={median * 1000:.1f} ms ratio={ratio:.3f} (target <= 1.10); "
        f"blocking sub-model ratio={sync_ratio:.3f} -> {out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
