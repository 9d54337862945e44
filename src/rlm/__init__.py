"""rlm: Recursive Language Models. `RLM(...).completion(prompt)` replaces `llm.completion(prompt)`."""

from rlm.errors import (
    BudgetExceededError,
    CancellationError,
    ErrorThresholdExceededError,
    LimitExceededError,
    RLMError,
    TimeoutExceededError,
    TokenLimitExceededError,
)

__all__ = [
    "RLM",
    "BudgetExceededError",
    "CancellationError",
    "ErrorThresholdExceededError",
    "LimitExceededError",
    "RLMError",
    "TimeoutExceededError",
    "TokenLimitExceededError",
]

from rlm.core.rlm import RLM

# Reference (`rlms`) module paths and names, from one table: rlm.compat.aliases.
from rlm.compat import install as _install_reference_names  # noqa: E402

_install_reference_names()
