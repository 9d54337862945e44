"""The engine's own count of what a counting query quotes and describes (core/counting.py),
and the check of the model's answer against it (core/guards.py)."""

from __future__ import annotations

import pytest

from conftest import recording_rlm, repl
from env_support import ENGINE_ENVS
from rlm.core.counting import count_check

ERRORS_PY = '''"""Exception classes: every class here is a subclass of Error."""


class Error(Exception):
    """Base class for errors in this package."""


class ParseError(Error):
    """A class of errors raised while parsing."""

    class Nested:
        pass


class DecodeError(Error):
    """Raised for bad input; see the class above."""
'''
PACKAGE = [
    {"path": "/pkg/errors.py", "content": ERRORS_PY},
    {"path": "/pkg/core.py", "content": "class Engine:\n    pass\n\nclass Loop:\n    pass\n"},
]


@pytest.mark.parametrize(
    ("query", "what", "expected", "accepted"),
    [
        # `.count("class ")` gives 9 here: docstrings say "class" too
        ("How many lines start with 'class ' in errors.py?", "lines starting", 3, {3, 4}),
        (
            "How many classes (lines beginning with 'class ') does errors.py define?",
            "lines s",
            3,
            {3, 4},
        ),
        ("How many lines of errors.py contain the word 'Error'?", "lines containing", 4, {4, 6}),
        ("How many lines in errors.py end with ':'?", "lines ending", 4, {4}),
        # "classes", "subclass": 10 as text, 8 as a word
        ("How many times does 'class' appear in errors.py?", "occurrences", 10, {8, 10}),
        # nothing named: the whole context
        ("How many lines start with 'class '?", "lines starting", 5, {5, 6}),
    ],
)
def test_a_quoted_count_with_its_manner_is_counted_exactly(query, what, expected, accepted):
    from rlm.core.first_look import first_look

    check = first_look(PACKAGE, query, 3000).count_check
    assert check is not None and check.what.startswith(what)
    assert check.expected == expected and check.accepted == accepted


@pytest.mark.parametrize(
    "query",
    [
        "How many classes does errors.py define?",  # nothing quoted: what counts is judgement
        "How many lines mention 'Error' or 'Loop'?",  # two quotes
        "What does 'class' mean here?",  # not a count
        "How many 'class' statements are there?",  # quoted, but how to count is not said
    ],
)
def test_without_a_quote_and_a_manner_there_is_no_check(query):
    assert count_check(query, [ERRORS_PY], "errors.py") is None


def test_fair_readings_are_all_accepted_and_only_a_single_number_is_judged():
    check = count_check("How many lines contain 'error'?", ["Error\nerror\nERROR x\nnone"], "t")
    assert check is not None and check.expected == 1 and check.accepted == {1, 3}
    assert check.agrees("3") and check.agrees("1 line") and check.agrees("There are 1,")
    assert check.agrees("2") is False
    assert check.agrees("1 or 3") is None and check.agrees("several") is None


QUERY = "How many classes (lines starting with 'class ') does errors.py define?"
MISCOUNT = repl('print(context[0]["content"].count("class "))')  # 9: docstrings count too


@pytest.mark.parametrize("env", ENGINE_ENVS)
def test_a_miscount_is_sent_back_once_with_the_exact_count(env):
    rlm, seen = recording_rlm([MISCOUNT, "FINAL(9)", "FINAL(3)"], env)
    result = rlm.completion(PACKAGE, root_prompt=QUERY)
    # the opening turn shows how to count exactly that, on the file the query names
    assert "line.startswith('class ')" in seen[0] and 'text = context[0]["content"]' in seen[0]
    assert "If 9 is the count the query asks for, reply now with one line: FINAL(9)" in seen[1]
    assert "FINAL(9) was not accepted yet" in seen[2]
    assert "lines starting with 'class ' in errors.py exactly gives 3 (" in seen[2]
    assert (result.response, result.finish_reason) == ("3", "final")


def test_a_miscount_given_again_is_returned_but_flagged_unverified():
    rlm, _seen = recording_rlm([MISCOUNT, "FINAL(9)", "FINAL(9)"], "local")
    result = rlm.completion(PACKAGE, root_prompt=QUERY)
    assert (result.response, result.finish_reason) == ("9", "unverified")
    assert result.answer_forced


def test_a_right_count_passes_at_once():
    code = repl('print(sum(l.startswith("class ") for l in context[0]["content"].split("\\n")))')
    rlm, seen = recording_rlm([code, "FINAL(3)"], "local")
    result = rlm.completion(PACKAGE, root_prompt=QUERY)
    assert (result.response, result.finish_reason, len(seen)) == ("3", "final", 2)
