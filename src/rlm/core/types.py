"""Public path of the shared data types (DESIGN.md names `rlm.core.types`).

They live on the ground floor, `rlm.types`, so that clients, environments and the logger can
use them without importing upward into the engine package.
"""

from rlm.types import *  # noqa: F403
from rlm.types import __all__  # noqa: F401
