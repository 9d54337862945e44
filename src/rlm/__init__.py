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
