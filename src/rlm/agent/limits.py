"""Per-turn and per-session limits of an agent.

A turn runs under the RLM's own limits (`max_budget`, `max_tokens`, `max_timeout`,
`max_errors`), tightened to what is left of the session's caps. The session's spend is read
from the store, so the caps hold across processes that resume the same session. A session
already at a cap refuses the next turn with the matching `LimitExceededError`.
"""

from __future__ import annotations

from typing import Any

from rlm.core.limits import Limits
from rlm.errors import (
    BudgetExceededError,
    ConfigurationError,
    TimeoutExceededError,
    TokenLimitExceededError,
)

__all__ = ["SessionLimits"]


class SessionLimits:
    def __init__(
        self,
        max_session_budget: float | None,
        max_session_tokens: int | None,
        max_session_time: float | None,
        rlm_kwargs: dict[str, Any],
    ):
        for name, value in (
            ("max_session_budget", max_session_budget),
            ("max_session_tokens", max_session_tokens),
            ("max_session_time", max_session_time),
        ):
            if value is not None and value <= 0:
                raise ConfigurationError(f"{name} must be > 0 (or None for no limit)")
        self.max_session_budget = max_session_budget
        self.max_session_tokens = max_session_tokens
        self.max_session_time = max_session_time
        turn = Limits(
            rlm_kwargs.get("max_budget"),
            rlm_kwargs.get("max_timeout"),
            rlm_kwargs.get("max_tokens"),
            rlm_kwargs.get("max_errors"),
        )
        self.turn = turn

    def for_next_turn(self, totals: dict[str, Any]) -> Limits:
        """The next turn's limits, given the session's totals so far (SessionStore.totals)."""
        spent = {"budget": totals.get("cost") or 0.0, "tokens": totals["tokens"],
                 "time": totals["time"]}  # fmt: skip
        caps = {"budget": self.max_session_budget, "tokens": self.max_session_tokens,
                "time": self.max_session_time}  # fmt: skip
        left = {what: _left(caps[what], spent[what]) for what in caps}
        for what, error in _ERRORS.items():
            if left[what] is not None and left[what] <= 0:
                raise error(
                    spent[what],
                    caps[what],
                    message=f"the session used its {what} cap ({caps[what]}); start a new "
                    f"session or raise max_session_{what}",
                )
        budget, tokens, seconds = left["budget"], left["tokens"], left["time"]
        return Limits(
            _tighter(self.turn.max_budget, budget),
            _tighter(self.turn.max_timeout, seconds),
            _tighter(self.turn.max_tokens, None if tokens is None else int(tokens)),
            self.turn.max_errors,
        )


_ERRORS: dict[str, Any] = {
    "budget": BudgetExceededError,
    "tokens": TokenLimitExceededError,
    "time": TimeoutExceededError,
}


def _left(cap: float | None, used: float) -> float | None:
    return None if cap is None else cap - used


def _tighter(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)
