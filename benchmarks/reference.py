"""The reference implementation (PyPI `rlms`) in its own virtualenv, driven over JSON.

The reference and our package share the import name `rlm`, so they can never live in one
interpreter: we create a virtualenv under a cache directory (default
~/.cache/rlm-bench/ref-venv, or $RLM_BENCH_CACHE/ref-venv), `pip install rlms` into it once,
and run `_reference_driver.py` with that venv's Python, one request per process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

DRIVER = Path(__file__).with_name("_reference_driver.py")
REFERENCE_SPEC = os.environ.get("RLM_BENCH_REFERENCE_SPEC", "rlms[ipython]")


class ReferenceUnavailable(RuntimeError):
    """The reference virtualenv could not be created or does not work."""


def cache_dir() -> Path:
    root = os.environ.get("RLM_BENCH_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "rlm-bench"


def venv_python() -> Path:
    return cache_dir() / "ref-venv" / "bin" / "python"


def ensure_venv(spec: str = REFERENCE_SPEC) -> Path:
    """Create the virtualenv and install the reference into it, once."""
    python = venv_python()
    if python.exists():
        probe = subprocess.run(
            [str(python), "-c", "import rlm.core.rlm"], capture_output=True, text=True
        )
        if probe.returncode == 0:
            return python
    print(f"benchmarks: creating the reference virtualenv at {python.parents[1]}", file=sys.stderr)
    venv.EnvBuilder(with_pip=True, clear=not python.exists()).create(python.parents[1])
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", spec], capture_output=True, text=True
    )
    if install.returncode != 0:
        raise ReferenceUnavailable(
            f"pip install {spec!r} into {python.parents[1]} failed:\n{install.stderr[-2000:]}\n"
            "Check network access to the package index, or pass --no-reference."
        )
    return python


def run(request: dict[str, Any], timeout: float = 1800) -> Any:
    """Send one request to a fresh driver process; return its JSON answer."""
    python = ensure_venv()
    proc = subprocess.run(
        [str(python), str(DRIVER)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=timeout,
        # The driver must import the reference's `rlm`, never ours from this checkout.
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        cwd=str(cache_dir()),
    )
    if proc.returncode != 0:
        raise ReferenceUnavailable(
            f"reference driver failed on {request.get('mode')} (exit {proc.returncode}):\n"
            f"{proc.stderr[-3000:]}"
        )
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if not lines:
        raise ReferenceUnavailable(
            f"reference driver printed nothing; stderr:\n{proc.stderr[-2000:]}"
        )
    return json.loads(lines[-1])


def environments() -> list[str]:
    """Reference environments that run on this machine without a cloud account: `local`,
    and its IPython environment in both kernel modes when the `ipython` extra installed."""
    python = ensure_venv()
    envs = ["local"]
    probe = subprocess.run(
        [str(python), "-c", "import ipykernel, jupyter_client"], capture_output=True
    )
    if probe.returncode == 0:
        envs += ["ipython", "ipython:subprocess"]
    return envs


def version() -> dict[str, Any]:
    return run({"mode": "version"})
