"""Price table lookups and overrides; sampling-argument translation."""

from __future__ import annotations

import pytest

from rlm.clients import pricing
from rlm.clients.pricing import Price, PriceTable, register_price
from rlm.clients.sampling import normalize, to_gemini, to_openai


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4o", "gpt-4o"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("openai/gpt-4o-mini", "gpt-4o-mini"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("anthropic/claude-haiku-4-5", "claude-haiku-4-5"),
        ("claude-3-5-haiku-latest", "claude-3-5-haiku"),
        ("gemini-2.0-flash-001", "gemini-2.0-flash"),
        ("models/gemini-2.5-pro", "gemini-2.5-pro"),
    ],
)
def test_known_models_and_their_versioned_names(model, expected):
    assert PriceTable().lookup(model) == pricing.DEFAULT_PRICES[expected]


@pytest.mark.parametrize("model", ["gpt-4", "my-finetune", "gpt-4o-audio-preview", "llama3"])
def test_unknown_models_have_no_price(model):
    assert PriceTable().lookup(model) is None
    assert PriceTable().cost(model, 1000, 1000) is None


def test_overrides_function_and_process_wide_registration(monkeypatch):
    monkeypatch.setattr(pricing, "_registered", {})
    table = PriceTable({"gpt-4o": (1.0, 2.0), "mine": {"input": 3.0, "output": 4.0}})
    assert table.cost("gpt-4o", 1_000_000, 1_000_000) == pytest.approx(3.0)
    assert table.cost("mine", 1_000_000, 0) == pytest.approx(3.0)
    register_price("local-qwen", 0.0, 0.0)
    assert PriceTable().cost("local-qwen", 10, 10) == 0.0
    by_fn = PriceTable(price_fn=lambda m, i, o: 42.0 if m == "x" else None)
    assert by_fn.cost("x", 1, 1) == 42.0
    assert by_fn.cost("gpt-4o", 1_000_000, 0) == pytest.approx(2.50)  # falls back to the table


def test_price_with_cache_rates():
    price = Price(2.0, 8.0, cached_input=0.5, cache_write=2.5)
    assert price.cost(1_000_000, 0, cached_input_tokens=500_000) == pytest.approx(1.25)
    assert price.cost(1_000_000, 0, cache_write_tokens=1_000_000) == pytest.approx(2.5)
    # Without a cached rate, cached tokens are plain input.
    assert Price(2.0, 8.0).cost(1_000_000, 0, cached_input_tokens=500_000) == pytest.approx(2.0)


def test_sampling_vocabulary():
    assert normalize({"max_output_tokens": 5, "stop_sequences": ["x"], "seed": None}) == {
        "max_tokens": 5,
        "stop": ["x"],
    }
    assert to_openai({"max_tokens": 5, "top_k": 3}) == {"max_completion_tokens": 5, "top_k": 3}
    assert to_openai({"max_tokens": 5}, max_tokens_param="max_tokens") == {"max_tokens": 5}
    assert to_gemini({"max_tokens": 5, "stop": "END", "reasoning_effort": "high"}) == {
        "max_output_tokens": 5,
        "stop_sequences": ["END"],
        "thinking_config": {"thinking_level": "HIGH"},
    }
