"""The first look: the engine searches the context for the query's words before the root
model's first turn and shows it the best-matching lines (core/first_look.py). On by default
for small windows, off for large ones, forced either way with `first_look=`; in `local` and
`sandbox` alike, since the search runs on the host."""

from __future__ import annotations

import pytest

from conftest import repl
from env_support import ENGINE_ENVS
from rlm import RLM
from rlm.core.first_look import first_look, query_terms

LICENCE = "\n".join(
    [
        "                 EXAMPLE PUBLIC LICENSE",
        "                 Version 4, 12 March 2031",
        "",
        *[f"Filler line {i} about redistribution and warranty terms." for i in range(300)],
        "  9. Termination.",
        "  If you stop every breach, your rights come back unless the holder",
        "  objects within 45 days after the cure.",
        *[f"More filler {i} on patents and notices." for i in range(300)],
    ]
)

PACKAGE = [
    {
        "path": "/src/pkg/__init__.py",
        "content": "from .core import run\n\ndef run_all():\n    pass\n",
    },
    {
        "path": "/src/pkg/core.py",
        "content": "import os\n\nBUFFER_BYTES = 8 * 4096\n\ndef run(x):\n    return x\n",
    },
    {
        "path": "/src/pkg/util.py",
        "content": "def helper():\n    '''Uses BUFFER_BYTES indirectly.'''\n    return 1\n",
    },
]


def test_terms_cover_spellings_pairs_names_definitions_and_dates():
    terms = {t.text: t for t in query_terms("On what date was version 4 of this licence issued?")}
    assert terms["licence"].pattern.search("This License applies")  # British/American
    assert terms["version 4"].pattern.search("Version 4, 12 March 2031")
    assert terms["a date"].pattern.search("Version 4, 12 March 2031")
    assert "On" not in terms and "what" not in terms  # question words are not searched

    named = {t.text: t for t in query_terms("Which file of core.py defines BUFFER_BYTES?")}
    assert "core" not in named  # a file name is matched to paths, not searched as a word
    definition = named["definition of BUFFER_BYTES"].pattern
    assert definition.search("BUFFER_BYTES = 8 * 4096")
    assert not definition.search("    '''Uses BUFFER_BYTES indirectly.'''")


def test_the_passage_that_answers_comes_with_its_neighbours():
    look = first_look(LICENCE, "How many days after the cure may the holder object?", 1_500)
    assert look is not None
    assert "objects within 45 days after the cure." in look.text
    assert "9. Termination." in look.text  # joined with the lines around it
    assert "Filler line 150" not in look.text  # common words do not pull in noise


def test_documents_are_named_by_the_expression_that_reaches_them():
    look = first_look(PACKAGE, "What is the value of BUFFER_BYTES?", 2_000)
    assert look is not None
    assert 'context[1]["content"] (core.py)' in look.text
    assert "BUFFER_BYTES = 8 * 4096" in look.text
    assert "'BUFFER_BYTES' is in core.py, util.py" in look.text


def test_a_query_naming_a_file_looks_there_first_and_missing_words_are_said():
    look = first_look(PACKAGE, "How many functions does __init__.py define with zebra?", 2_000)
    assert look is not None
    assert "'__init__.py' names context[0][\"content\"] (__init__.py)" in look.text
    assert "not in the context: 'functions', 'define', 'zebra'" in look.text
    first_passage = look.text.split("--- ", 1)[1]
    assert first_passage.startswith('context[0]["content"] (__init__.py)')


def test_nothing_to_show_gives_none():
    assert first_look(LICENCE, "the a of?", 2_000) is None  # no content words
    assert first_look(LICENCE, "zebra quagga", 2_000) is None  # nothing matches
    assert first_look(12345, "anything", 2_000) is None  # nothing to search
    binary = [{"path": "x.bin", "content": "\x00\x01zebra"}]
    assert first_look(binary, "zebra", 2_000) is None  # binary documents are skipped


def test_the_budget_holds():
    look = first_look(LICENCE, "filler redistribution warranty patents notices", 1_500)
    assert look is not None
    passages = look.text.split("\n\n--- ")
    assert sum(len(p) for p in passages) < 1_500 + 400  # headers and the hint list aside


@pytest.mark.parametrize("env", ENGINE_ENVS)
def test_a_small_window_model_gets_the_first_look_and_answers_from_it(env):
    def model(messages):
        first_user = next(m["content"] for m in messages if m["role"] == "user")
        assert "objects within 45 days after the cure." in first_user
        assert first_user.rstrip().endswith("every part the query asks for.")
        return "FINAL(45)"

    rlm = RLM(
        backend="function",
        backend_kwargs={"function": model, "context_window": 8_192},
        environment=env,
    )
    result = rlm.completion(LICENCE, root_prompt="How many days may the holder object?")
    assert result.response == "45"
    assert result.finish_reason == "final"


@pytest.mark.parametrize(
    ("window", "setting", "shown"),
    [(8_192, None, True), (200_000, None, False), (200_000, True, True), (8_192, False, False)],
)
def test_first_look_is_on_for_small_windows_and_can_be_forced(window, setting, shown):
    seen = []

    def model(messages):
        seen.append(next(m["content"] for m in messages if m["role"] == "user"))
        return "FINAL(45)"

    rlm = RLM(
        backend="function",
        backend_kwargs={"function": model, "context_window": window},
        environment="local",
        first_look=setting,
    )
    rlm.completion(LICENCE, root_prompt="How many days may the holder object?")
    assert ("objects within 45 days" in seen[0]) is shown


def test_without_a_query_there_is_no_first_look():
    seen = []

    def model(messages):
        seen.append(next(m["content"] for m in messages if m["role"] == "user"))
        return repl('FINAL("done")')

    rlm = RLM(
        backend="function",
        backend_kwargs={"function": model, "context_window": 8_192},
        environment="local",
    )
    assert rlm.completion(LICENCE).response == "done"
    assert "found these lines" not in seen[0]
