"""Drives our engine (the `rlm` of this checkout) for the comparative benchmarks.

The twin of `_reference_driver.py`: same measurement procedures (`driver_common.py`), same
simulated model (`sim_scripts.py`), one request per fresh process. The model is a `BaseLM`
subclass like the reference driver's: sync calls sleep in the calling thread, async calls
(which our broker uses for batches when a client has native async, as the reference's batched
path does) sleep with asyncio, as a real async HTTP client would wait.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from driver_common import serve  # type: ignore[import-not-found]
from rlm import RLM
from rlm.clients import BaseLM
from rlm.core.types import CallUsage, LMResponse
from sim_scripts import SimModel, is_sub_call  # type: ignore[import-not-found]


class SimLM(BaseLM):
    def __init__(self, sim: SimModel):
        super().__init__(model_name="sim")
        self.sim = sim

    def _response(self, prompt: object, text: str) -> LMResponse:
        return LMResponse(text, CallUsage("sim", len(str(prompt)) // 4, len(text) // 4))

    def complete(self, prompt, **sampling):
        return self._response(prompt, self.sim(prompt))

    async def acomplete(self, prompt, **sampling):
        if is_sub_call(prompt):
            with self.sim._lock:
                self.sim.sub_calls += 1
            if self.sim.sub_latency:
                await asyncio.sleep(self.sim.sub_latency)
            return self._response(prompt, "ok")
        return await asyncio.to_thread(self.complete, prompt)


def run(sim: SimModel, context, env: str, max_iterations: int, concurrency: int):
    engine = RLM(
        backend=SimLM(sim),
        environment=env,
        max_iterations=max_iterations,
        max_concurrent_subcalls=max(1, concurrency),
    )
    start = time.perf_counter()
    result = engine.completion(context)
    wall = time.perf_counter() - start
    return str(result.response), wall


def describe() -> dict:
    from rlm.environments import REGISTRY

    return {
        "engine": "rlm (this checkout)",
        "python": sys.version.split()[0],
        "environments": sorted(REGISTRY),
    }


if __name__ == "__main__":
    serve(run, describe)
