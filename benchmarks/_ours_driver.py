"""Drives our engine (the `rlm` of this checkout) for the comparative benchmarks.

The twin of `_reference_driver.py`: same measurement procedures (`driver_common.py`), same
simulated model (`sim_scripts.py`), one request per fresh process. The model is played with
the `function` backend, our documented way to stand in for a model.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from driver_common import serve  # type: ignore[import-not-found]
from rlm import RLM
from sim_scripts import SimModel  # type: ignore[import-not-found]


def run(sim: SimModel, context, env: str, max_iterations: int, concurrency: int):
    engine = RLM(
        backend="function",
        backend_kwargs={"function": sim},
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
