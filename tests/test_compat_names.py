"""Reference (`rlms`) module paths and names resolve to ours, from the one alias table."""

from __future__ import annotations

import importlib

import pytest

import rlm
from rlm.compat.aliases import ALIASES, EXTRA_NAMES, resolve


@pytest.mark.parametrize("path", sorted(ALIASES))
def test_every_reference_path_imports_and_resolves(path):
    module = importlib.import_module(path)
    for name, target in ALIASES[path].items():
        assert getattr(module, name) is resolve(target)


@pytest.mark.parametrize("path", sorted(EXTRA_NAMES))
def test_reference_names_on_our_modules(path):
    module = importlib.import_module(path)
    for name, target in EXTRA_NAMES[path].items():
        assert getattr(module, name) is resolve(target)


def test_from_rlm_import_rlmlogger():
    from rlm import RLMLogger
    from rlm.logger import RLMLogger as ours

    assert RLMLogger is ours


def test_no_name_is_public_in_two_packages():
    import rlm.clients
    import rlm.environments
    import rlm.logger

    seen: dict[str, str] = {}
    for module in (rlm, rlm.clients, rlm.environments, rlm.logger):
        for name in module.__all__:
            assert name not in seen, f"{name} in {seen.get(name)} and {module.__name__}"
            seen[name] = module.__name__


def test_reference_style_client_subclass_is_accepted():
    from rlm.clients.base_lm import BaseLM

    from rlm.core.types import ModelUsageSummary

    class Echo(BaseLM):  # written for the reference: completion + get_last_usage only
        def completion(self, prompt):
            return "```repl\nFINAL(len(context))\n```"

        async def acompletion(self, prompt):
            return self.completion(prompt)

        def get_usage_summary(self):
            return None

        def get_last_usage(self):
            return ModelUsageSummary(1, 7, 3)

    result = rlm.RLM(backend=Echo(model_name="echo"), environment="local").completion("abcd")
    assert result.response == "4"
    assert result.usage_summary.model_usage_summaries["echo"].total_input_tokens == 7


def test_unknown_path_still_fails():
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("rlm.utils.nothing_here")


def test_reference_names_survive_a_fresh_import(monkeypatch):
    # Test suites (the reference's own) drop modules from sys.modules and import them again.
    import sys

    for name in ("rlm.environments", "rlm.logger"):
        monkeypatch.delitem(sys.modules, name)
        fresh = importlib.import_module(name)
        for attr, target in EXTRA_NAMES[name].items():
            assert getattr(fresh, attr) is resolve(target)
