"""Every error `rlm` raises derives from `RLMError`.

    RLMError
    ├── ConfigurationError          bad arguments: unknown backend/environment, reserved tool name,
    │   │                           missing API key, bad context type
    │   ├── MissingDependencyError  an optional extra is not installed (says which `pip install`)
    │   └── NotSendableError        a context or value that cannot cross into a worker process
    │                               (not str or JSON data); also a TypeError, as json's is
    ├── ModelError                  a model call failed for good
    │   ├── ScriptExhaustedError    the `scripted` backend ran out of responses
    │   ├── AuthenticationError     401/403 from a provider: the message names the variable to set
    │   ├── BadRequestError         400/404/422 from a provider: not retried
    │   ├── RateLimitError          429 after every retry
    │   ├── ProviderError           5xx / connection / timeout after every retry
    │   └── RealModelCallBlockedError  a real provider request while the test guard is on
    ├── REPLEnvironmentError        the REPL environment itself failed (not the model's code)
    │   ├── SandboxUnavailableError the kernel lacks a required lockdown feature (names the opt-in)
    │   └── BrokerError             a malformed or oversized message on the host<->worker channel
    ├── LimitExceededError          a limit of the whole recursion tree was hit; `.partial_answer`
    │   ├── BudgetExceededError     max_budget (USD)
    │   ├── TimeoutExceededError    max_timeout (seconds)
    │   ├── TokenLimitExceededError max_tokens (input + output)
    │   ├── SubcallLimitExceededError       max_subcalls (llm_query / rlm_query calls)
    │   ├── SubcallTokenLimitExceededError  max_subcall_tokens (tokens spent by sub-calls)
    │   └── ErrorThresholdExceededError  max_errors consecutive failing iterations
    ├── CancellationError           Ctrl-C / cancel(); `.partial_answer`
    └── LogFormatError              a trajectory file that is not a valid log

Errors raised by model-written code are not here: they are data, returned to the model as
REPL output. The limit errors keep the constructor signatures of the reference implementation
(`rlms`) so code that catches or builds them keeps working.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "BrokerError",
    "BudgetExceededError",
    "CancellationError",
    "ConfigurationError",
    "ErrorThresholdExceededError",
    "LimitExceededError",
    "LogFormatError",
    "MissingDependencyError",
    "ModelError",
    "NotSendableError",
    "ProviderError",
    "REPLEnvironmentError",
    "RLMError",
    "RateLimitError",
    "RealModelCallBlockedError",
    "SandboxUnavailableError",
    "ScriptExhaustedError",
    "SubcallLimitExceededError",
    "SubcallTokenLimitExceededError",
    "TimeoutExceededError",
    "TokenLimitExceededError",
]


class RLMError(Exception):
    """Base class of every error raised by rlm."""


class ConfigurationError(RLMError, ValueError):
    """The arguments given to rlm cannot work; the message says what to change."""


class MissingDependencyError(ConfigurationError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""

    def __init__(self, feature: str, extra: str, module: str | None = None):
        self.feature = feature
        self.extra = extra
        hint = f" (module {module!r} not found)" if module else ""
        super().__init__(f"{feature} needs an optional extra{hint}: pip install 'rlm[{extra}]'")


class NotSendableError(ConfigurationError, TypeError):
    """A value that cannot cross into an out-of-process environment (not str or JSON)."""


class ModelError(RLMError):
    """A language-model call failed and will not be retried."""

    def __init__(self, message: str, *, model: str | None = None, status: int | None = None):
        self.model = model
        self.status = status
        super().__init__(message)


class ScriptExhaustedError(ModelError):
    """The `scripted` backend was asked for more responses than it was given."""


class AuthenticationError(ModelError):
    """The provider rejected the credentials."""


class BadRequestError(ModelError):
    """The provider rejected the request itself (bad model name, bad arguments)."""


class RateLimitError(ModelError):
    """The provider kept answering 429 after every retry."""


class ProviderError(ModelError):
    """Server errors, timeouts or connection failures that outlasted every retry."""


class RealModelCallBlockedError(ModelError):
    """A real provider request was attempted while real requests are blocked (tests)."""


class REPLEnvironmentError(RLMError):
    """The execution environment failed (not the model's code, which only yields REPL output)."""


class SandboxUnavailableError(REPLEnvironmentError):
    """The sandbox cannot be locked down on this machine."""


class BrokerError(REPLEnvironmentError):
    """A message on the host<->worker channel broke the protocol."""


class LimitExceededError(RLMError):
    """A limit on the whole recursion tree was exceeded."""

    def __init__(self, message: str, partial_answer: str | None = None):
        self.partial_answer = partial_answer
        super().__init__(message)


class BudgetExceededError(LimitExceededError):
    def __init__(
        self,
        spent: float,
        budget: float,
        message: str | None = None,
        partial_answer: str | None = None,
    ):
        self.spent = spent
        self.budget = budget
        super().__init__(
            message
            or f"Budget exceeded: spent ${spent:.6f} of ${budget:.6f}. "
            "Raise max_budget or use a cheaper sub-model (other_backends).",
            partial_answer,
        )


class TimeoutExceededError(LimitExceededError):
    def __init__(
        self,
        elapsed: float,
        timeout: float,
        partial_answer: str | None = None,
        message: str | None = None,
    ):
        self.elapsed = elapsed
        self.timeout = timeout
        super().__init__(
            message
            or f"Timeout exceeded: {elapsed:.1f}s of {timeout:.1f}s. Raise max_timeout "
            "or lower max_iterations.",
            partial_answer,
        )


class TokenLimitExceededError(LimitExceededError):
    def __init__(
        self,
        tokens_used: int,
        token_limit: int,
        partial_answer: str | None = None,
        message: str | None = None,
    ):
        self.tokens_used = tokens_used
        self.token_limit = token_limit
        super().__init__(
            message
            or f"Token limit exceeded: {tokens_used:,} of {token_limit:,} tokens. "
            "Raise max_tokens.",
            partial_answer,
        )


class SubcallLimitExceededError(LimitExceededError):
    def __init__(self, subcalls: int, limit: int, partial_answer: str | None = None):
        self.subcalls = subcalls
        self.limit = limit
        super().__init__(
            f"Sub-call limit exceeded: sub-call {subcalls:,} of at most {limit:,}. Raise "
            "max_subcalls, or pass on_subcall_limit='finalize' to have the model answer "
            "with what it has.",
            partial_answer,
        )


class SubcallTokenLimitExceededError(LimitExceededError):
    def __init__(self, tokens_used: int, token_limit: int, partial_answer: str | None = None):
        self.tokens_used = tokens_used
        self.token_limit = token_limit
        super().__init__(
            f"Sub-call token limit exceeded: {tokens_used:,} of {token_limit:,} tokens spent "
            "by sub-calls. Raise max_subcall_tokens, or pass on_subcall_limit='finalize' to "
            "have the model answer with what it has.",
            partial_answer,
        )


class ErrorThresholdExceededError(LimitExceededError):
    def __init__(
        self,
        error_count: int,
        threshold: int,
        last_error: str | None = None,
        partial_answer: str | None = None,
        message: str | None = None,
    ):
        self.error_count = error_count
        self.threshold = threshold
        self.last_error = last_error
        super().__init__(
            message
            or f"Error threshold exceeded: {error_count} consecutive failing iterations "
            f"(limit {threshold}). Last error: {(last_error or '').strip()[-300:]}",
            partial_answer,
        )


class CancellationError(RLMError):
    """The run was cancelled (Ctrl-C); children were stopped."""

    def __init__(self, partial_answer: str | None = None, message: str | None = None):
        self.partial_answer = partial_answer
        super().__init__(message or "Execution cancelled by user")


class LogFormatError(RLMError, ValueError):
    """A trajectory log could not be read."""
