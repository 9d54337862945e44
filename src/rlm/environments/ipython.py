"""`ipython`: the sandbox worker, locked down the same way, running cells through IPython's
InteractiveShell (magics such as %timeit, IPython's display of the last expression).

Needs IPython in the interpreter that runs the worker (`pip install 'rlm[ipython]'`).
Everything else (broker, limits, recovery, context streaming) is the sandbox's.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from rlm.environments.sandbox.env import SandboxREPL
from rlm.errors import ConfigurationError, MissingDependencyError

KERNEL_MODES = ("subprocess", "in_process")


class IPythonREPL(SandboxREPL):
    """environment_kwargs: every `sandbox` keyword, plus the reference's `kernel_mode`,
    `startup_timeout` and `subcall_timeout`. Both kernel modes run in the locked-down worker
    (there is no in-process mode: model code never runs in the host); `.locals` is a snapshot.
    `cell_timeout=None` or `0` means the sandbox's default (300 s), not "no limit"."""

    name = "ipython"
    executor = "ipython"

    def __init__(
        self,
        *args: Any,
        kernel_mode: str = "subprocess",
        startup_timeout: float = 60.0,
        subcall_timeout: float | None = None,
        cell_timeout: float | None = 300.0,
        **kwargs: Any,
    ):
        if kernel_mode not in KERNEL_MODES:
            raise ConfigurationError(
                f"kernel_mode must be one of {KERNEL_MODES}, not {kernel_mode!r}"
            )
        if startup_timeout is None or startup_timeout <= 0:
            raise ConfigurationError("startup_timeout must be a positive number of seconds")
        if subcall_timeout is not None and subcall_timeout <= 0:
            raise ConfigurationError("subcall_timeout must be a positive number of seconds or None")
        if kwargs.get("python") is None and importlib.util.find_spec("IPython") is None:
            raise MissingDependencyError("environment 'ipython'", "ipython", "IPython")
        self.kernel_mode = kernel_mode
        self.subcall_timeout = subcall_timeout
        super().__init__(
            *args, cell_timeout=cell_timeout or 300.0, start_timeout=startup_timeout, **kwargs
        )
