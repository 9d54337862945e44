"""Drives the reference implementation (PyPI `rlms`, import name `rlm`) for our benchmarks.

Runs INSIDE the reference's own virtualenv (see benchmarks/reference.py), never in ours: it
imports the reference's `rlm` package. It plays the model the way the reference's own tests
do, by replacing `rlm.core.rlm.get_client` with a function returning a `BaseLM` subclass, and
measures with the same procedures and simulated replies as our driver (`driver_common.py`,
`sim_scripts.py`: stdlib only, found next to this file).

Environment names: `local`, `ipython` (its default in-process IPython shell) and
`ipython:subprocess` (a Jupyter kernel in a child process, its out-of-process option).
"""

from __future__ import annotations

import asyncio
import sys
import time

from rlm.clients.base_lm import BaseLM

import rlm.core.rlm as rlm_module  # the reference's package, from its virtualenv
from driver_common import serve  # type: ignore[import-not-found]  # this file's folder
from rlm.core.types import ModelUsageSummary, UsageSummary
from sim_scripts import SimModel, is_sub_call  # type: ignore[import-not-found]

_CURRENT: dict[str, SimModel] = {}


class SimLM(BaseLM):
    """A reference-style client around a SimModel: sync calls sleep in the calling thread;
    async calls (the reference's batched path uses asyncio.gather) sleep with asyncio, as a
    real async HTTP client would wait."""

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


# What the reference's tests do: patch.object(rlm.core.rlm, "get_client", ...).
rlm_module.get_client = lambda backend, backend_kwargs: SimLM(_CURRENT["sim"])


def run(sim: SimModel, context, env: str, max_iterations: int, concurrency: int):
    _CURRENT["sim"] = sim
    name, _, mode = env.partition(":")
    engine = rlm_module.RLM(
        backend="openai",
        backend_kwargs={"model_name": "sim"},
        environment=name,
        environment_kwargs={"kernel_mode": mode} if mode else None,
        max_iterations=max_iterations,
        max_concurrent_subcalls=concurrency,
    )
    start = time.perf_counter()
    result = engine.completion(context)
    wall = time.perf_counter() - start
    engine.close()
    return str(result.response), wall


def describe() -> dict:
    from importlib.metadata import version

    return {"engine": "rlms " + version("rlms"), "python": sys.version.split()[0]}


if __name__ == "__main__":
    serve(run, describe)
