"""`SmartRouter`: one plain model call when the context fits the model, an RLM when it does not.

An RLM pays for its loop (several root turns, code, sub-calls); when the whole context fits
comfortably in the model's window, one call over it is faster and, for small models, often
more accurate. The router measures the context (in tokens, `rlm.tokens`) against the model's
window and picks. For the RLM path an `ExecutionProfile` says which strategy the root model is
asked to follow (pyrlm-runtime's four profiles).

Built on `rlm.RLM` and the clients' public seam only, never the loop's internals.
"""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from rlm.clients import BaseLM, get_client
from rlm.core.rlm import RLM
from rlm.environments.toolkit import Context
from rlm.errors import ConfigurationError
from rlm.tokens import CHARS_PER_TOKEN, count_tokens
from rlm.trace import Trace
from rlm.types import RLMChatCompletion

__all__ = ["ExecutionProfile", "RouterConfig", "RouterResult", "SmartRouter"]

DEFAULT_WINDOW = 128_000  # tokens, when the client does not say
ANSWER_RESERVE = 1_024  # tokens kept free for the plain call's answer
BASELINE = "baseline"


class ExecutionProfile(Enum):
    """How the RLM path is asked to work."""

    DETERMINISTIC_FIRST = "deterministic_first"  # code (find, regex, extract_after) first
    SEMANTIC_BATCHES = "semantic_batches"  # ask the question over every chunk, combine
    HYBRID = "hybrid"  # code first, chunked sub-calls when code finds nothing
    VERIFY = "verify"  # check the candidate answer with a second look before FINAL


# The strategy each profile adds to the query, in the REPL's own names.
STRATEGIES = {
    ExecutionProfile.DETERMINISTIC_FIRST: (
        "Find it with code first: ctx.find('word'), extract_after('marker'), re over P. "
        "Call ask(question, text) only on a short passage code has found."
    ),
    ExecutionProfile.SEMANTIC_BATCHES: (
        "Ask the question over every chunk: answers = ask_chunks(question, "
        "ctx.chunk(8000)) (or ctx.chunk_documents(5) for documents), then combine the "
        "answers in code."
    ),
    ExecutionProfile.HYBRID: (
        "Try code first (ctx.find, extract_after, re over P). If it finds nothing, use "
        "pick_first_answer(ask_chunks(question, ctx.chunk(8000)))."
    ),
    ExecutionProfile.VERIFY: (
        "Once you have a candidate answer, check it with ask(question, passage) on the "
        "passage it came from before you give FINAL."
    ),
}

# Profile settings, applied only where this RLM has the keyword (guards come from other
# parts of rlm; a missing one is skipped, not an error).
PROFILE_KWARGS: dict[ExecutionProfile, dict[str, Any]] = {
    ExecutionProfile.DETERMINISTIC_FIRST: {"require_repl_before_final": True},
    ExecutionProfile.SEMANTIC_BATCHES: {
        "require_repl_before_final": True,
        "require_subcall_before_final": True,
    },
    ExecutionProfile.HYBRID: {"require_repl_before_final": True},
    ExecutionProfile.VERIFY: {"require_repl_before_final": True, "max_depth": 2},
}


@dataclass
class RouterConfig:
    """`baseline_threshold` (characters): plain call below it, RLM at or above it, as in
    pyrlm-runtime. None (default): plain call when the context, the question and room for
    the answer fit in `window_fraction` of the model's context window."""

    baseline_threshold: int | None = None
    window_fraction: float = 0.5
    default_profile: ExecutionProfile = ExecutionProfile.DETERMINISTIC_FIRST
    baseline_system_prompt: str = "You answer questions about a document exactly and briefly."

    def __post_init__(self) -> None:
        if not 0 < self.window_fraction <= 1:
            raise ConfigurationError("RouterConfig.window_fraction must be in (0, 1]")
        if self.baseline_threshold is not None and self.baseline_threshold < 0:
            raise ConfigurationError("RouterConfig.baseline_threshold must be >= 0 (or None)")


@dataclass
class RouterResult:
    output: str
    method: str  # "baseline" (one plain call) or "rlm"
    profile: ExecutionProfile
    context_chars: int
    context_tokens: int | None  # None when the context was too big to be worth counting
    tokens_used: int
    elapsed: float
    trace: Trace = field(default_factory=Trace)
    completion: RLMChatCompletion | None = None  # the RLM's full result (method "rlm")


class SmartRouter:
    """`SmartRouter(backend, backend_kwargs, config=RouterConfig(), **rlm_kwargs)`; then
    `router.run(query, context)`. `rlm_kwargs` go to every `rlm.RLM` it builds
    (environment, limits, other_backends, ...). `context_window` overrides the client's."""

    def __init__(
        self,
        backend: str | BaseLM = "openai",
        backend_kwargs: dict[str, Any] | None = None,
        *,
        config: RouterConfig | None = None,
        context_window: int | None = None,
        **rlm_kwargs: Any,
    ):
        self.config = config or RouterConfig()
        self.client = get_client(backend, backend_kwargs)
        self.context_window = context_window or self.client.context_window or DEFAULT_WINDOW
        self.rlm_kwargs = rlm_kwargs
        self._rlms: dict[ExecutionProfile | str, RLM] = {}

    # -- deciding ---------------------------------------------------------------------------
    def measure(self, context: Any, query: str = "") -> tuple[int, int | None]:
        """(characters, tokens) of the context as the plain call would send it; tokens are
        None when the characters alone show it cannot fit (counting a huge text is slow)."""
        text = Context.of(context).text
        budget = self.config.window_fraction * self.context_window
        if len(text) > 2 * CHARS_PER_TOKEN * budget:
            return len(text), None
        model = self.client.model_name
        return len(text), count_tokens(text, model) + count_tokens(query, model)

    def choose(self, context: Any, query: str = "") -> str:
        """ "baseline" or "rlm" for this context."""
        chars, tokens = self.measure(context, query)
        return self._choose(chars, tokens)

    def _choose(self, chars: int, tokens: int | None) -> str:
        if self.config.baseline_threshold is not None:
            return "baseline" if chars < self.config.baseline_threshold else "rlm"
        budget = self.config.window_fraction * self.context_window
        return "baseline" if tokens is not None and tokens + self._reserve <= budget else "rlm"

    @property
    def _reserve(self) -> int:
        return min(ANSWER_RESERVE, self.context_window // 8)

    # -- running ----------------------------------------------------------------------------
    def run(
        self,
        query: str,
        context: Any,
        *,
        profile: ExecutionProfile | None = None,
        force_method: str | None = None,
    ) -> RouterResult:
        if force_method not in (None, "baseline", "rlm"):
            raise ConfigurationError("force_method must be 'baseline', 'rlm' or None")
        profile = profile or self.config.default_profile
        started = time.perf_counter()
        chars, tokens = self.measure(context, query)
        method = force_method or self._choose(chars, tokens)
        if method == "baseline":
            output, used, trace, completion = *self._baseline(query, context), None
        else:
            completion = self._rlm(profile).completion(context, root_prompt=query)
            output, used = completion.response, completion.usage_summary.total_tokens
            trace = completion.trace or Trace()
        return RouterResult(
            output=output,
            method=method,
            profile=profile,
            context_chars=chars,
            context_tokens=tokens,
            tokens_used=used,
            elapsed=time.perf_counter() - started,
            trace=trace,
            completion=completion,
        )

    def _baseline(self, query: str, context: Any) -> tuple[str, int, Trace]:
        """One plain call, as an `RLM(max_depth=0)` completion: the user's limits, logger and
        observers apply to it as to any run. The question goes inside the prompt."""
        text = Context.of(context).text
        room = int(self.config.window_fraction * self.context_window - self._reserve)
        cap = max(0, room) * CHARS_PER_TOKEN
        if len(text) > cap:  # forced onto a context that does not fit: cut it, say so
            text = text[:cap] + f"\n[... {len(text) - cap:,} more characters cut ...]"
        messages = [
            {"role": "system", "content": self.config.baseline_system_prompt},
            {
                "role": "user",
                "content": f"Context:\n{text}\n\nQuestion: {query}\n"
                "Answer from the context only. If it is not there, say NO_ANSWER.",
            },
        ]
        if BASELINE not in self._rlms:
            kwargs = {**self.rlm_kwargs, "max_depth": 0}
            self._rlms[BASELINE] = RLM(backend=self.client, **kwargs)
        completion = self._rlms[BASELINE].completion(messages)
        trace = Trace([replace(s, kind="baseline_call") for s in completion.trace.steps])
        return completion.response.strip(), completion.usage_summary.total_tokens, trace

    def _rlm(self, profile: ExecutionProfile) -> RLM:
        if profile not in self._rlms:
            accepted = inspect.signature(RLM.__init__).parameters
            kwargs = {k: v for k, v in PROFILE_KWARGS[profile].items() if k in accepted}
            kwargs.update(self.rlm_kwargs)  # the user's settings win over the profile's
            # The strategy opens the first turn. Appended to the query, it was part of what the
            # first look searched for ("find", "word", "marker") and of every turn's question.
            own = kwargs.get("user_prologue")
            strategy = f"Strategy: {STRATEGIES[profile]}"
            kwargs["user_prologue"] = f"{own}\n\n{strategy}" if own else strategy
            self._rlms[profile] = RLM(backend=self.client, **kwargs)
        return self._rlms[profile]

    def close(self) -> None:
        """Release the RLMs' environments and the model clients."""
        for rlm in self._rlms.values():
            rlm.close()
        self._rlms.clear()
        self.client.close()

    def __enter__(self) -> SmartRouter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
