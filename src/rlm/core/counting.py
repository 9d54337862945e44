"""Counts the engine can make itself: a query that quotes what to count and says how.

"How many lines start with 'class '", "how many lines in errors.py contain 'Defect'", "how many
times does 'Licensee' appear": such a query leaves nothing to judgement, so the engine counts
it exactly and checks the model's answer against that (core/guards.py). A small model that
writes `text.count("class ")` counts "Base class for" in docstrings too and answers 30 where
26 lines start with `class `; told the exact count once, it corrects itself, and an answer that
still disagrees ends the run as `unverified` instead of exiting 0.

Where a reading is ambiguous (case, `splitlines()` splitting at form feeds where `grep` does
not, an indented line "starting" with the text), every reasonable reading is accepted: the
check exists to catch a count of the wrong thing, not to pick between fair readings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rlm.core.query_terms import QUOTED, asks_for_count

__all__ = ["CountCheck", "count_check", "line_count_code"]

# What precedes the quote says how to count ("start with the word 'x'", "contain the text").
_NOUN = r"(?:\s+(?:the\s+|a\s+)?(?:word|text|string|phrase|prefix|suffix|keyword)s?)?\s*$"
_STARTS = re.compile(r"\b(?:start(?:s|ed|ing)?|begin(?:s|ning)?)\s+with" + _NOUN, re.I)
_ENDS = re.compile(r"\bend(?:s|ed|ing)?\s+with" + _NOUN, re.I)
# "lines that contain", "lines of charset.py mention", "lines with"
_CONTAINS = re.compile(
    r"\blines?\b[^'\"`?]*?\b(?:contain|mention|includ|hav|has|with)\w*" + _NOUN, re.I
)
_TIMES = re.compile(r"\b(?:times|occurrences?|occurs?|appears?|instances?)\b", re.I)


@dataclass(frozen=True)
class CountCheck:
    """The exact count of what a query describes, and every fair reading of it."""

    what: str  # "lines starting with 'class '"
    where: str  # "errors.py", or "the context"
    expected: int  # the literal reading: exact case, lines split at newlines
    accepted: frozenset[int]
    code: str = ""  # Python that counts it, given `text`: the example the model is shown

    def agrees(self, answer: str) -> bool | None:
        """Whether the answer's number is a fair count; None when it holds no single number
        (a sentence, a list): then the check has nothing to say."""
        numbers = {n.replace(",", "") for n in re.findall(r"(?<![\w.])\d[\d,]*(?![\w.])", answer)}
        if len(numbers) != 1:
            return None
        return int(numbers.pop()) in self.accepted

    def describe(self) -> str:
        others = sorted(self.accepted - {self.expected})
        also = f" (read differently, e.g. ignoring case: {', '.join(map(str, others))})"
        return f"{self.expected}{also if others else ''}"


# Per manner of counting lines: (the words that ask for it, its name, the Python the model is
# shown, the test of a line against the quoted text, and how to forgive whitespace at the
# tested end: "lines starting with 'def '" may mean methods too).
_LINE_MANNERS = (
    (_STARTS, "starting with", "line.startswith({!r})", str.startswith, str.lstrip),
    (_ENDS, "ending with", "line.endswith({!r})", str.endswith, str.rstrip),
    (_CONTAINS, "containing", "{!r} in line", lambda line, needle: needle in line, None),
)


def _line_counts(texts: Sequence[str], test, needle: str, trim) -> set[int]:
    """The count under every fair reading: lines split at newlines or by `splitlines()`,
    either case, and (with `trim`) whitespace at the tested end ignored."""
    counts = set()
    for split in (lambda t: t.split("\n"), str.splitlines):
        for fold in (str, str.lower):
            for strip in (str, trim) if trim else (str,):
                want = strip(fold(needle))
                counts.add(
                    sum(1 for t in texts for line in split(t) if test(strip(fold(line)), want))
                )
    return counts


def line_count_code(test: str) -> str:
    """The code a model is shown for counting the lines of `text` that pass `test`, printing
    a few of them so it can see what it counted."""
    return f'found = [line for line in text.split("\\n") if {test}]\nprint(len(found), found[:3])'


def count_check(query: str, texts: Sequence[str], where: str) -> CountCheck | None:
    """The check for a counting `query` over `texts` (the documents it names, or all of
    them), or None when the query does not quote what to count and say how."""
    if not asks_for_count(query) or not texts:
        return None
    quotes = list(QUOTED.finditer(query))
    if len(quotes) != 1:
        return None
    quote = quotes[0]
    literal, before = quote.group(2), query[: quote.start()]
    if not literal.strip():
        return None
    for words, manner, code, test, trim in _LINE_MANNERS:
        if words.search(before):
            accepted = _line_counts(texts, test, literal, trim)
            expected = sum(1 for t in texts for line in t.split("\n") if test(line, literal))
            return CountCheck(
                f"lines {manner} {literal!r}",
                where,
                expected,
                frozenset(accepted),
                line_count_code(code.format(literal)),
            )
    if _TIMES.search(query):
        what = f"occurrences of {literal!r}"
        word = re.compile(r"(?<!\w)" + re.escape(literal.strip()) + r"(?!\w)")
        word_folded = re.compile(word.pattern, re.I)
        accepted = {
            sum(t.count(literal) for t in texts),
            sum(t.lower().count(literal.lower()) for t in texts),
            sum(len(word.findall(t)) for t in texts),
            sum(len(word_folded.findall(t)) for t in texts),
        }
        expected = sum(t.count(literal) for t in texts)
        return CountCheck(
            what, where, expected, frozenset(accepted), f"print(text.count({literal!r}))"
        )
    return None
