"""Price table: USD per million tokens, per model. Unknown model -> cost None, never a guess.

Prices change; these are the providers' published list prices for standard (non-batch,
short-context) use as of late 2025. Override them per client with
`backend_kwargs={"prices": {"my-model": (in_per_m, out_per_m)}}` or a function
`price_fn(model, input_tokens, output_tokens) -> float | None`, or process-wide with
`register_price(model, input, output)`. A provider-reported cost (OpenRouter's
`usage.cost`) always wins over the table.

Not modelled: long-context tiers (Gemini 2.5 Pro and Claude Sonnet charge more above 200k
prompt tokens), batch discounts, regional surcharges. RLM root prompts stay far below 200k.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["DEFAULT_PRICES", "Price", "PriceFn", "PriceTable", "register_price"]


@dataclass(frozen=True)
class Price:
    """USD per million tokens. `cached_input` applies to prompt tokens served from the
    provider's prompt cache, `cache_write` to tokens written to it (Anthropic)."""

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None

    def cost(
        self,
        input_tokens: int,
        output_tokens: int,
        cached_input_tokens: int = 0,
        cache_write_tokens: int = 0,
    ) -> float:
        """`input_tokens` counts every prompt token, cached and cache-written ones included."""
        cached = cached_input_tokens if self.cached_input is not None else 0
        written = cache_write_tokens if self.cache_write is not None else 0
        plain = max(0, input_tokens - cached - written)
        total = plain * self.input + output_tokens * self.output
        total += cached * (self.cached_input or 0.0) + written * (self.cache_write or 0.0)
        return total / 1_000_000


PriceFn = Callable[[str, int, int], float | None]


def _anthropic(inp: float, out: float) -> Price:
    return Price(inp, out, cached_input=inp * 0.1, cache_write=inp * 1.25)


DEFAULT_PRICES: dict[str, Price] = {
    # OpenAI
    "gpt-5": Price(1.25, 10.0, cached_input=0.125),
    "gpt-5-mini": Price(0.25, 2.0, cached_input=0.025),
    "gpt-5-nano": Price(0.05, 0.40, cached_input=0.005),
    "gpt-4.1": Price(2.0, 8.0, cached_input=0.50),
    "gpt-4.1-mini": Price(0.40, 1.60, cached_input=0.10),
    "gpt-4.1-nano": Price(0.10, 0.40, cached_input=0.025),
    "gpt-4o": Price(2.50, 10.0, cached_input=1.25),
    "gpt-4o-mini": Price(0.15, 0.60, cached_input=0.075),
    "o1": Price(15.0, 60.0, cached_input=7.50),
    "o3": Price(2.0, 8.0, cached_input=0.50),
    "o3-mini": Price(1.10, 4.40, cached_input=0.55),
    "o4-mini": Price(1.10, 4.40, cached_input=0.275),
    # Anthropic (cache reads 0.1x input, 5-minute cache writes 1.25x input)
    "claude-opus-4-5": _anthropic(5.0, 25.0),
    "claude-opus-4-1": _anthropic(15.0, 75.0),
    "claude-opus-4": _anthropic(15.0, 75.0),
    "claude-sonnet-4-5": _anthropic(3.0, 15.0),
    "claude-sonnet-4": _anthropic(3.0, 15.0),
    "claude-3-7-sonnet": _anthropic(3.0, 15.0),
    "claude-haiku-4-5": _anthropic(1.0, 5.0),
    "claude-3-5-haiku": _anthropic(0.80, 4.0),
    # Google Gemini (prompts up to 200k tokens)
    "gemini-2.5-pro": Price(1.25, 10.0, cached_input=0.125),
    "gemini-2.5-flash": Price(0.30, 2.50, cached_input=0.03),
    "gemini-2.5-flash-lite": Price(0.10, 0.40, cached_input=0.01),
    "gemini-2.0-flash": Price(0.10, 0.40, cached_input=0.025),
    "gemini-2.0-flash-lite": Price(0.075, 0.30),
}

_registered: dict[str, Price] = {}
_registered_lock = threading.Lock()

# Routing prefixes ("openai/gpt-4o" on LiteLLM/OpenRouter/Portkey) and version suffixes
# ("-2024-08-06", "-20250514", "-latest", "@20250514", "-001") that do not change the price.
_PREFIX = re.compile(r"^(?:[\w.-]+/)+")
_SUFFIX = re.compile(r"(?:[-@](?:\d{4}-\d{2}-\d{2}|\d{8}|latest|\d{3}|v\d+(?::\d+)?))+$")


def _as_price(value: Price | tuple[float, ...] | Mapping[str, float]) -> Price:
    if isinstance(value, Price):
        return value
    if isinstance(value, Mapping):
        return Price(**value)
    return Price(*value)


def register_price(model: str, input: float, output: float, **extra: float) -> None:
    """Add or replace a price for every client in this process (USD per million tokens)."""
    with _registered_lock:
        _registered[model] = Price(input, output, **extra)


def _candidates(model: str) -> list[str]:
    names = [model]
    bare = _PREFIX.sub("", model)
    for name in (bare, _SUFFIX.sub("", model), _SUFFIX.sub("", bare)):
        if name and name not in names:
            names.append(name)
    return names


class PriceTable:
    """Per-client view: overrides, then process-wide registrations, then the defaults."""

    def __init__(
        self,
        overrides: Mapping[str, Any] | None = None,
        price_fn: PriceFn | None = None,
    ):
        self.overrides = {k: _as_price(v) for k, v in (overrides or {}).items()}
        self.price_fn = price_fn

    def lookup(self, model: str) -> Price | None:
        with _registered_lock:
            registered = dict(_registered)
        for table in (self.overrides, registered, DEFAULT_PRICES):
            for name in _candidates(model):
                if name in table:
                    return table[name]
        return None

    def cost(
        self,
        model: str,
        input_tokens: int,
        output_tokens: int,
        cached_input_tokens: int = 0,
        cache_write_tokens: int = 0,
    ) -> float | None:
        if self.price_fn is not None:
            value = self.price_fn(model, input_tokens, output_tokens)
            if value is not None:
                return float(value)
        price = self.lookup(model)
        if price is None:
            return None
        return price.cost(input_tokens, output_tokens, cached_input_tokens, cache_write_tokens)
