"""Is an answer written in what the model was shown? A check for answers given straight from
the first look, before any code ran.

A small model shown the right lines still answers from its head: "1024" for
`RECORDSIZE = BLOCKSIZE * 20`, "2" for the number of functions in a file it saw three of.
Such an answer is in none of the lines it read. The engine then refuses it once and asks for
code (core/guards.py): a count or a computed value is computed, a value the text states is
found and printed. A model that gives the same answer again is believed.

The test is deliberately loose (a false alarm costs one turn; a miss costs nothing new):
- a number must occur as a whole number on a shown line where a query word also is ("30"
  next to "days", "512" next to BLOCKSIZE when BLOCKSIZE is asked about);
- every word of other short text must occur in the shown lines, ignoring case and
  punctuation (`charset.py, "Charset"` is grounded by a passage of charset.py);
- sentences (long answers) are not judged;
- once code ran, what it printed (or passed to FINAL) counts as shown too: "1" answered
  after the code printed "0" is in neither;
- an answer to a query that asks for a count ("how many classes does errors.py define") is
  never grounded by the lines shown: they are a sample, and the count needs code.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rlm.core.first_look import FirstLook
from rlm.core.query_terms import FULL_DATE

__all__ = ["grounded", "partial_date"]

MAX_JUDGED_CHARS = 80
_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)*(?![\w])")
_PUNCTUATION = re.compile(r"[^\w.]+|\.(?!\w)")


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in _NUMBER.findall(text)}


def _words(text: str) -> set[str]:
    """Lowercase words without punctuation; a dotted word also gives its parts (`shutil.py`
    grounds "shutil")."""
    words = set(_PUNCTUATION.sub(" ", text.lower()).split())
    return words | {part for word in words if "." in word for part in word.split(".") if part}


def grounded(answer: str, look: FirstLook, outputs: Sequence[str] = ()) -> bool:
    """Whether `answer` is written in what the model saw: the lines `look` showed, or what its
    code printed or passed to FINAL (`outputs`). See the module docstring."""
    text = answer.strip()
    printed = "\n".join(outputs)
    if look.count and not printed:  # a count read off a sample is a guess
        return False
    if not text or len(text) > MAX_JUDGED_CHARS:
        return True
    numbers = _numbers(text)
    if numbers:
        return all(
            n in _numbers(printed) or (not look.count and _number_shown(n, look)) for n in numbers
        )
    return _words(text) <= _words("\n".join(look.shown)) | _words(printed)


def _number_shown(number: str, look: FirstLook) -> bool:
    return any(
        number in _numbers(line) and any(term.pattern.search(line) for term in look.terms)
        for line in look.shown
    )


def partial_date(answer: str, look: FirstLook) -> str | None:
    """For a query that asks for a date, answered with less than the whole date ("2007"
    where a shown line says "29 June 2007"): that whole date; else None."""
    if not look.date or FULL_DATE.search(answer):
        return None
    years = set(re.findall(r"\b\d{4}\b", answer))
    # Several shown dates may hold that year ("28 March 2007" in a patent clause, "29 June
    # 2007" by "Version 3"): only the one on the line with the most query words counts, and
    # only when no other date ties with it (naming the wrong date would mislead).
    scored: dict[str, int] = {}
    for line in look.shown:
        words = sum(1 for t in look.terms if t.kind != "date" and t.pattern.search(line))
        for match in FULL_DATE.finditer(line):
            if years & set(re.findall(r"\d{4}", match.group(0))):
                scored[match.group(0)] = max(scored.get(match.group(0), 0), words)
    ranked = sorted(scored.items(), key=lambda item: -item[1])
    if not ranked or (len(ranked) > 1 and ranked[1][1] == ranked[0][1]) or not ranked[0][1]:
        return None
    return ranked[0][0]
