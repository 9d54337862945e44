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
    "AgentRLM",
    "BudgetExceededError",
    "CancellationError",
    "ErrorThresholdExceededError",
    "LimitExceededError",
    "RLMError",
    "TimeoutExceededError",
    "TokenLimitExceededError",
    "create_enforced_agent",
]

from rlm.agent import AgentRLM, create_enforced_agent
from rlm.core.rlm import RLM
