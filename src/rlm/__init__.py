"""rlm: Recursive Language Models. `RLM(...).completion(prompt)` replaces `llm.completion(prompt)`."""

from rlm.errors import (
    BudgetExceededError,
    CancellationError,
    ErrorThresholdExceededError,
    LimitExceededError,
    RLMError,
    SubcallLimitExceededError,
    SubcallTokenLimitExceededError,
    TimeoutExceededError,
    TokenLimitExceededError,
)

__all__ = [
    "RLM",
    "AgentRLM",
    "BudgetExceededError",
    "CancellationError",
    "Context",
    "ErrorThresholdExceededError",
    "ExecutionProfile",
    "LimitExceededError",
    "RLMError",
    "RouterConfig",
    "RouterResult",
    "SmartRouter",
    "SubcallLimitExceededError",
    "SubcallTokenLimitExceededError",
    "TimeoutExceededError",
    "TokenLimitExceededError",
    "Trace",
    "TraceStep",
    "create_enforced_agent",
]

# Reference (`rlms`) module paths and names, from one table: rlm.compat.aliases.
from rlm.agent import AgentRLM, create_enforced_agent
from rlm.compat import install as _install_reference_names
from rlm.core.rlm import RLM
from rlm.environments.toolkit import Context
from rlm.router import ExecutionProfile, RouterConfig, RouterResult, SmartRouter
from rlm.trace import Trace, TraceStep

_install_reference_names()
