"""The hardened `sandbox` environment and the worker runtime every out-of-process env uses.

Modules (one job each): `wire` framing, `lockdown` kernel restrictions (runs in the worker),
`worker` the worker's main loop, `process` host side of one worker process and its
callbacks, `env` the `SandboxREPL` environment with recovery. `wire`, `lockdown` and `worker`
are standard-library only: they are shipped as source to the worker with `runtime`.
"""

from rlm.environments.sandbox.env import SandboxREPL

__all__ = ["SandboxREPL"]
