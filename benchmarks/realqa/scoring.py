"""Grading an answer against the accepted spellings.

Only the start of a reply counts (a model that dumps a whole file has not answered). A numeric
answer is right when the first or the last number of the reply that is not already in the
question equals the gold number ("Section 7", "30 days", "1.2 and 1.3, so 2"); a text answer is
right when an accepted spelling appears in the reply, ignoring case and punctuation (as SQuAD's
normalisation does: "(January, 2004)" gives "January 2004").
"""

from __future__ import annotations

import re

ANSWER_WINDOW = 400  # characters of the reply that are read
_PUNCTUATION = re.compile(r"[^\w.]+|\.(?!\w)")
_NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?(?![\w])")


def _numbers(text: str) -> list[str]:
    return [n.replace(",", "").rstrip(".") for n in _NUMBER.findall(text)]


def _plain(text: str) -> str:
    return " " + " ".join(_PUNCTUATION.sub(" ", text.lower()).split()) + " "


def is_correct(
    prediction: str | None, answers: tuple[str, ...], numeric: bool, question: str
) -> bool:
    text = (prediction or "").strip()[:ANSWER_WINDOW]
    if not text:
        return False
    lowered = " ".join(text.lower().split())
    for alias in answers:
        if not alias.isdigit() and (alias.lower() in lowered or _plain(alias) in _plain(text)):
            return True
    if not numeric:
        return False
    asked = set(_numbers(question))
    found = [n for n in _numbers(text) if n not in asked]
    if not found:
        return False
    gold = {a for a in answers if a.isdigit()}
    return found[0] in gold or found[-1] in gold
