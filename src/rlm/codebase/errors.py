"""The codebase package's one error type (an `RLMError`, so callers catch one tree)."""

from __future__ import annotations

from rlm.errors import RLMError


class CodebaseError(RLMError):
    """A codebase request that cannot be served: unknown handle, bad pattern, not a repository.

    The message never carries an absolute host path: it goes back to models and MCP clients.
    """
