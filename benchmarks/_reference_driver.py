"""Drives the reference implementation (PyPI `rlms`, import name `rlm`) for our benchmarks.

Runs INSIDE the reference's own virtualenv (see benchmarks/reference.py), never in ours: it
imports the reference's `rlm` package. It plays the model the way the reference's own tests
do, by replacing `rlm.core.rlm.get_client` with a function returning a `BaseLM` subclass, and
uses the same simulated replies as our runners (`sim_scripts.py`, stdlib only, found next to
this file).

Protocol: one JSON request on stdin, one JSON document on stdout. Everything the reference
prints goes to stderr so stdout stays parseable.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time

from sim_scripts import (  # type: ignore[import-not-found]  # this file's own folder
    CONTEXT_REPLY,
    SimModel,
    is_sub_call,
    overhead_model,
    throughput_reply,
)

import rlm.core.rlm as rlm_module  # the reference's package, from its virtualenv
from rlm.clients.base_lm import BaseLM
from rlm.core.types import ModelUsageSummary, UsageSummary

_CURRENT: dict[str, SimModel] = {}


class SimLM(BaseLM):
    """A reference-style client around a SimModel: sync calls sleep in the calling thread;
    async calls (the reference's batched path uses asyncio.gather) sleep with asyncio."""

    def __init__(self, sim: SimModel, model_name: str = "sim"):
        super().__init__(model_name=model_name)
        self.sim = sim
        self.calls = 0
        self.input_tokens = 0
        self.output_tokens = 0

    def _count(self, prompt: object, text: str) -> None:
        self.calls += 1
        self.input_tokens += len(str(prompt)) // 4
        self.output_tokens += len(text) // 4

    def completion(self, prompt):
        text = self.sim(prompt)
        self._count(prompt, text)
        return text

    async def acompletion(self, prompt):
        if is_sub_call(prompt):
            self.sim.sub_calls += 1
            if self.sim.sub_latency:
                await asyncio.sleep(self.sim.sub_latency)
            self._count(prompt, "ok")
            return "ok"
        return await asyncio.to_thread(self.completion, prompt)

    def get_usage_summary(self):
        return UsageSummary(model_usage_summaries={self.model_name: self.get_last_usage()})

    def get_last_usage(self):
        return ModelUsageSummary(
            total_calls=self.calls,
            total_input_tokens=self.input_tokens,
            total_output_tokens=self.output_tokens,
        )


def _patched_get_client(backend, backend_kwargs):
    return SimLM(_CURRENT["sim"])


rlm_module.get_client = _patched_get_client


def _run(sim: SimModel, context, env: str, max_iterations: int, concurrency: int):
    _CURRENT["sim"] = sim
    engine = rlm_module.RLM(
        backend="openai",
        backend_kwargs={"model_name": "sim"},
        environment=env,
        max_iterations=max_iterations,
        max_concurrent_subcalls=concurrency,
    )
    start = time.perf_counter()
    result = engine.completion(context)
    wall = time.perf_counter() - start
    engine.close()
    return result, wall


def overhead(req: dict) -> list[dict]:
    rows = []
    for _ in range(req["repeats"]):
        sim = overhead_model(
            req["iterations"], req["batch"], req["root_latency"], req["sub_latency"]
        )
        result, wall = _run(
            sim, "bench context", req["env"], req["iterations"] + 1, max(req["batch"], 1)
        )
        ok = str(result.response).startswith("done")
        rows.append({"wall_s": wall, "ok": ok, "root_calls": sim.root_calls,
                     "sub_calls": sim.sub_calls, "response": str(result.response)[:200]})
    return rows


def throughput(req: dict) -> dict:
    sim = SimModel([throughput_reply(req["n_sequential"], req["n_batched"])])
    result, wall = _run(sim, "bench context", req["env"], 2, req.get("concurrency", 16))
    try:
        seq_s, batch_s = (float(x) for x in str(result.response).split())
    except ValueError:
        return {"ok": False, "response": str(result.response)[:500], "wall_s": wall}
    return {"ok": True, "sequential_s": seq_s, "batched_s": batch_s, "wall_s": wall,
            "sub_calls": sim.sub_calls}


def context(req: dict) -> dict:
    size = int(req["mb"] * 1024 * 1024)
    chunk = "The quick brown fox jumps over the lazy dog. 0123456789\n"
    text = (chunk * (size // len(chunk) + 1))[:size]
    base_rss = _rss_mb()
    sim = SimModel([CONTEXT_REPLY])
    result, wall = _run(sim, text, req["env"], 2, 4)
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"ok": str(result.response).strip() == str(size), "response": str(result.response)[:100],
            "load_s": wall, "rss_before_mb": base_rss, "peak_rss_mb": self_kb / 1024,
            "peak_child_rss_mb": child_kb / 1024}


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    request = json.loads(sys.stdin.read())
    out = sys.stdout
    sys.stdout = sys.stderr  # keep the reference's prints off our JSON channel
    mode = request["mode"]
    if mode == "overhead":
        payload = overhead(request)
    elif mode == "throughput":
        payload = throughput(request)
    elif mode == "context":
        payload = context(request)
    elif mode == "version":
        from importlib.metadata import version

        payload = {"rlms": version("rlms"), "python": sys.version.split()[0],
                   "executable": sys.executable, "pid": os.getpid()}
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    out.write(json.dumps(payload) + "\n")
    out.flush()


if __name__ == "__main__":
    main()
