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
    "create_enforced_agent",
    "BudgetExceededError",
    "CancellationError",
    "ErrorThresholdExceededError",
    "LimitExceededError",
    "RLMError",
    "TimeoutExceededError",
    "TokenLimitExceededError",
]

from rlm.core.rlm import RLM
from rlm.agent import AgentRLM, create_enforced_agent  # noqa: E402 - needs RLM first
