"""Run one measurement request against an engine ("ours" or "reference") in a fresh process.

Both engines are driven by twin driver scripts sharing their procedures (driver_common.py),
so a row for "ours" and a row for "reference" differ only in the engine underneath.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks import reference

HERE = Path(__file__).resolve().parent
ENGINES = ("ours", "reference")


class DriverError(RuntimeError):
    pass


def run(engine: str, request: dict[str, Any], timeout: float = 1800) -> Any:
    if engine == "reference":
        return reference.run(request, timeout=timeout)
    if engine != "ours":
        raise ValueError(f"unknown engine {engine!r}; choose from {ENGINES}")
    proc = subprocess.run(
        [sys.executable, str(HERE / "_ours_driver.py")],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=timeout,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0 or not lines:
        raise DriverError(
            f"our driver failed on {request.get('mode')} / {request.get('env')} "
            f"(exit {proc.returncode}):\n{proc.stderr[-3000:]}"
        )
    return json.loads(lines[-1])


def our_environments(only: list[str] | None = None) -> list[str]:
    """Our registered environments that start on this machine (probed with one tiny run);
    the others are reported with the reason they were skipped."""
    from rlm.environments import REGISTRY

    usable = []
    for name in sorted(REGISTRY):
        if only and name not in only:
            continue
        try:
            out = run(
                "ours",
                {"mode": "throughput", "env": name, "n_sequential": 1, "n_batched": 1},
                timeout=120,
            )
        except (DriverError, subprocess.TimeoutExpired) as exc:
            print(
                f"benchmarks: skipping our environment {name!r}: {str(exc)[-300:]}", file=sys.stderr
            )
            continue
        if out.get("ok"):
            usable.append(name)
        else:
            print(f"benchmarks: skipping our environment {name!r}: {out}", file=sys.stderr)
    return usable


def environments(engine: str, only: list[str] | None = None) -> list[str]:
    envs = our_environments(only) if engine == "ours" else reference.environments()
    return [e for e in envs if not only or e in only]
