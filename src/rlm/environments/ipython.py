"""`ipython`: the sandbox worker, locked down the same way, running cells through IPython's
InteractiveShell (magics such as %timeit, IPython's display of the last expression).

Needs IPython in the interpreter that runs the worker (`pip install 'rlm[ipython]'`).
Everything else (broker, limits, recovery, context streaming) is the sandbox's.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from rlm.environments.sandbox.env import SandboxREPL
from rlm.errors import MissingDependencyError


class IPythonREPL(SandboxREPL):
    name = "ipython"
    executor = "ipython"

    def __init__(self, *args: Any, **kwargs: Any):
        if kwargs.get("python") is None and importlib.util.find_spec("IPython") is None:
            raise MissingDependencyError("environment 'ipython'", "ipython", "IPython")
        super().__init__(*args, **kwargs)
