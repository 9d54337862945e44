"""The searchable terms of a query: what the first look (core/first_look.py) matches lines
against. Quoted phrases, pairs of neighbouring words, single words with their endings and both
spellings, identifiers whole, the line that defines a name in code, and a date when asked for.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

__all__ = [
    "FULL_DATE",
    "QUOTED",
    "STOPWORDS",
    "Term",
    "asks_for_count",
    "asks_for_date",
    "query_terms",
]

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*|\d+(?:\.\d+)*")
# A quoted phrase: the quote opens after a non-word character (so "package's" is no quote).
QUOTED = re.compile(r"""(?<![\w])(['"`])([^'"`\n]{1,60}?)\1(?![\w])""")

# Words that frame a question rather than say what it is about.
STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing done down during each either
    else ever every few for from further had has have having he her here hers him his how i if
    in into is it its itself just me more most my no nor not now of off on once only or other
    our out over own same she should so some such than that the their them then there these
    they this those through to too under until up upon very was we were what when where which
    while who whom whose why will with within would you your yours
    answer answers question questions tell give given find show say says said write number
    numbers exactly exact name named called value values many much kind type please according
    text document documents context whole use used using one ones thing things something
    """.split()  # noqa: SIM905 (a word list reads better as text)
)
_SUFFIXES = ("ings", "ing", "ies", "es", "ed", "s")
_ASKS_DATE = re.compile(r"\b(?:date|dated|when|year|month|day)\b", re.I)
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
# "29 June 2007", "June 29, 2007", "January 2004", "2007-06-29", "1991"
_DATE = re.compile(
    rf"\b(?:\d{{1,2}}\s+{_MONTH}\s+\d{{4}}|{_MONTH}\s+(?:\d{{1,2}},?\s+)?\d{{4}}"
    r"|\d{4}-\d\d-\d\d)\b"
)


@dataclass(frozen=True)
class Term:
    text: str  # as the query wrote it
    pattern: re.Pattern[str]
    kind: str = "word"  # word | quoted | pair | definition | member | date
    of: str = ""  # on a definition: the query word whose definition it finds

    @property
    def phrase(self) -> bool:
        return self.kind != "word"


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if len(word) - len(suffix) >= 4 and word.endswith(suffix):
            return word[: -len(suffix)] if suffix != "ies" else word[:-3] + "y"
    return word


def _word_pattern(word: str) -> tuple[str, str]:
    """(dedup key, regex) for one query word. Plain words match any ending (`day` finds
    "days") and both spellings of -nce/-nse and -ise/-ize (licence, license); identifiers
    (with `_`, inner capitals, dots or digits) match whole."""
    lower = word.lower()
    if word.isalpha() and (word.islower() or word.istitle()) and len(word) >= 4:
        stem = _stem(lower)
        body = re.escape(stem)
        body = re.sub(
            r"n[cs]e?$", lambda m: "n[cs]" + ("e" if m.group(0).endswith("e") else ""), body
        )
        body = re.sub(
            r"i[sz]e?$", lambda m: "i[sz]" + ("e" if m.group(0).endswith("e") else ""), body
        )
        return "w:" + re.sub(r"[sz]|c(?=e?$)", "s", stem), r"\b" + body + r"\w*"
    return "w:" + lower, r"(?<![\w])" + re.escape(word) + r"(?![\w])"


def _words(query: str) -> list[list[str]]:
    """The query's content words, in runs of neighbours (a stop word or punctuation other
    than `-` ends a run): "the copyright holder fails" -> [["copyright", "holder", "fails"]]."""
    runs: list[list[str]] = [[]]
    position = 0
    for match in _WORD.finditer(query):
        gap = query[position : match.start()]
        position = match.end()
        word = match.group(0)
        if gap.strip(" -") or word.lower() in STOPWORDS or (len(word) < 2 and not word.isdigit()):
            runs.append([])
        if word.lower() not in STOPWORDS and (len(word) >= 2 or word.isdigit()):
            runs[-1].append(word)
    return [run for run in runs if run]


def query_terms(query: str) -> list[Term]:
    """The query's searchable terms: quoted phrases, pairs of neighbouring words ("version 3"),
    single words and names, the definitions of those names in code, and a date when the query
    asks for one."""
    terms: dict[str, Term] = {}

    def add(key: str, term: Term) -> None:
        terms.setdefault(key, term)

    for match in QUOTED.finditer(query):
        phrase = match.group(2)
        if phrase.strip() and phrase.lower().strip() not in STOPWORDS:
            add("q:" + phrase.lower(), Term(phrase, re.compile(re.escape(phrase), re.I), "quoted"))
    for run in _words(query):
        for first, second in itertools.pairwise(run):
            pattern = _word_pattern(first)[1] + r"[\W_]+" + _word_pattern(second)[1]
            add(
                f"p:{first} {second}".lower(),
                Term(f"{first} {second}", re.compile(pattern, re.I), "pair"),
            )
        for word in run:
            parts = [word]
            if "." in word and not word.replace(".", "").isdigit():
                pieces = [p for p in word.split(".") if p]
                # A file name (`errors.py`) is matched to document paths whole (see
                # `named_documents`); its stem as a word (`__init__`) would find every
                # `def __init__`. A dotted name (`TarFile.OPEN_METH`) also searches its parts.
                is_file = len(pieces) == 2 and len(pieces[1]) <= 4 and pieces[1].islower()
                parts += [] if is_file else pieces
            for part in parts:
                key, pattern = _word_pattern(part)
                add(key, Term(part, re.compile(pattern, re.I)))
    code_names = _code_names(query)
    for term in list(terms.values()):
        if not term.phrase and term.text in code_names:
            # In code, the line that defines a name the query gives usually holds its answer:
            # `def dedent(`, `class Charset:`, `MAXLINELEN = 78`; a top-level one more than
            # an indented one (a method or attribute of the same name).
            for kind, indent in (("definition", ""), ("member", r"[ \t]+")):
                name = re.escape(term.text)
                pattern = re.compile(
                    rf"^{indent}(?:(?:async[ \t]+)?def|class)[ \t]+{name}\b"
                    rf"|^{indent}{name}[ \t]*(?::[^=\n]*)?=(?!=)",
                    re.M,
                )
                label = "definition" if kind == "definition" else "indented definition"
                add(
                    f"{kind}:{term.text}", Term(f"{label} of {term.text}", pattern, kind, term.text)
                )
    if _ASKS_DATE.search(query):
        add("t:date", Term("a date", _DATE, "date"))
    return list(terms.values())


# Words that say the next or previous word is a name in code: "the function dedent", "the
# verbosity parameter". ("module" is not one: "the header module" is a file, header.py.)
_CODE_NOUNS = frozenset(
    """
    class function def method constant variable attribute parameter argument field property
    exception decorator enum option flag
    """.split()  # noqa: SIM905 (a word list reads better as text)
)
_BETWEEN = frozenset({"named", "called", "exactly", "top", "level", "the", "a", "an"})


def _code_names(query: str) -> set[str]:
    """The query's words that may be names in code, whose definitions (`def x`, `X = ...`)
    are worth finding: shaped like code (an inner or all capital, `_`, a digit or a dot:
    TextTestRunner, MAXLINELEN, __version__, Error mid-sentence) or next to a word that
    calls them code ("the function dedent", "a class named Error", "the verbosity
    parameter"). Plain words are not: "the unittest package" found `package = ...` in
    loader.py, and the model answered loader.py."""
    words = [(m.group(0), m.start()) for m in _WORD.finditer(query)]
    lowered = [w.lower() for w, _ in words]
    nouns = [w in _CODE_NOUNS or w[:-1] in _CODE_NOUNS or w[:-2] in _CODE_NOUNS for w in lowered]
    names = set()
    for i, (word, start) in enumerate(words):
        if len(word) < 3 or word[0].isdigit() or nouns[i] or lowered[i] in _BETWEEN:
            continue
        shaped = (not word.islower() and (start > 0 or not word.istitle())) or any(
            c in word for c in "_.0123456789"
        )
        before = i - 1
        while before >= 0 and lowered[before] in _BETWEEN:
            before -= 1
        called = (before >= 0 and nouns[before]) or (i + 1 < len(words) and nouns[i + 1])
        if shaped or called:  # and the parts of a dotted name: TarFile.OPEN_METH
            names |= {word, *(part for part in word.split(".") if part)}
    return names


# "How many days / bytes / times" asks for a quantity the text states; "how many classes /
# modules / versions" asks for things to be counted.
_UNITS = (
    "second|minute|hour|day|week|month|year|decade|century|byte|kilobyte|megabyte|gigabyte|"
    "bit|kb|mb|gb|character|char|page|percent|dollar|euro|mile|meter|metre|"
    "kilometer|kilometre|foot|feet|inch|pound|kilogram|gram|degree|point|step"
)
_COUNT = re.compile(r"\b(?:how\s+many|number\s+of|count\s+(?:of\s+)?the)\b", re.I)
_UNIT = re.compile(rf"^(?:{_UNITS})(?:e?s)?$", re.I)


def asks_for_count(query: str) -> bool:
    """Whether the query asks for things to be counted (not for a quantity the text states,
    like "how many days after notice"): a count needs code over the whole context."""
    for match in _COUNT.finditer(query):
        following = re.findall(r"[A-Za-z]+", query[match.end() :])[:3]  # "days?" is "days"
        if not any(_UNIT.match(word) for word in following):
            return True
    return False


# A date with its day: "29 June 2007", "June 29, 2007", "2007-06-29".
FULL_DATE = re.compile(
    rf"\b(?:\d{{1,2}}\s+{_MONTH}\s+\d{{4}}|{_MONTH}\s+\d{{1,2}},?\s+\d{{4}}|\d{{4}}-\d\d-\d\d)\b"
)
_ASKS_FULL_DATE = re.compile(r"\b(?:what|which|on)\s+(?:\w+\s+)?(?:date|day)\b", re.I)


def asks_for_date(query: str) -> bool:
    """Whether the query asks for a whole date ("on what date", "which day"), not a year."""
    return bool(_ASKS_FULL_DATE.search(query))
