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

# Reference (`rlms`) module paths and names, from one table: rlm.compat.aliases.
from rlm.compat import install as _install_reference_names
from rlm.core.rlm import RLM

_install_reference_names()
