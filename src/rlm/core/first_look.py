"""The first look: before the root model's first turn, the lines of `context` that share the
most of the query's rarest words, found by a deterministic keyword search.

Why the engine does this instead of leaving it to the model: a small model (the embedded
1.5B, an 8k-token window) asked about a 300 KB text writes a regex for the whole question,
finds nothing and answers "0"; or prints a whole file and drowns. Ranking lines by the query's
words is cheap, needs no model and is the same on every run, and most questions over real
text (a value, a date, a section, the file that defines a name) are answered by reading the
right five lines. The model keeps the REPL for the rest (counting, combining, checking), and
the turn says the passages are a sample, not the whole.

Scoring is BM25-like over lines: a term's weight is its rarity (log of lines over lines that
contain it), a window of lines scores the weights of the distinct terms it holds, with extra
for terms on its centre line, quoted phrases and documents whose path names a query word.
"""

from __future__ import annotations

import itertools
import math
import re
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any

from rlm.core.context_shape import document_keys, short_paths

__all__ = ["FirstLook", "first_look", "look_budget", "query_terms"]

WINDOW = 2  # lines each side of a centre line that count towards its score and are shown
MAX_LINE_CHARS = 200
MAX_PASSAGES = 8
MAX_TERMS_LISTED = 8
MIN_RELATIVE_SCORE = 0.3  # windows scoring under this share of the best are noise
RARE_LINES = 30  # a term on at most this many lines gets its own passage
MAX_CONTEXT_CHARS = 20_000_000  # past this, searching costs more than it saves: skip

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*|\d+(?:\.\d+)*")
# A quoted phrase: the quote opens after a non-word character (so "package's" is no quote).
_QUOTED = re.compile(r"""(?<![\w])(['"`])([^'"`\n]{1,60}?)\1(?![\w])""")

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
    kind: str = "word"  # word | quoted | pair | definition | date
    of: str = ""  # on a definition: the query word whose definition it finds

    @property
    def phrase(self) -> bool:
        return self.kind != "word"


@dataclass(frozen=True)
class Document:
    label: str  # how model code reaches it: context, context[3], context['key']
    path: str
    text: str


@dataclass(frozen=True)
class FirstLook:
    """What the search found, rendered for the model by `text`."""

    text: str
    passages: int
    terms_found: int


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

    for match in _QUOTED.finditer(query):
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
    for term in list(terms.values()):
        if not term.phrase and len(term.text) >= 3 and not term.text[0].isdigit():
            # In code, the line that defines a name the query gives usually holds its answer:
            # `def dedent(`, `class Charset:`, `MAXLINELEN = 78`.
            name = re.escape(term.text)
            pattern = re.compile(
                rf"^[ \t]*(?:(?:async[ \t]+)?def|class)[ \t]+{name}\b"
                rf"|^[ \t]*{name}[ \t]*(?::[^=\n]*)?=(?!=)",
                re.M,
            )
            add(
                "d:" + term.text,
                Term(f"definition of {term.text}", pattern, "definition", term.text),
            )
    if _ASKS_DATE.search(query):
        add("t:date", Term("a date", _DATE, "date"))
    return list(terms.values())


def documents(context: Any, name: str = "context") -> list[Document]:
    """The context as searchable documents, each with the expression that reaches it."""
    if isinstance(context, str):
        return [Document(name, "", context)]
    if isinstance(context, dict):
        return [
            Document(f"{name}[{key!r}]", str(key), value)
            for key, value in context.items()
            if isinstance(value, str)
        ]
    if isinstance(context, (list, tuple)):
        docs = []
        for index, item in enumerate(context):
            keys = document_keys(item)
            if keys:
                docs.append(Document(f'{name}[{index}]["{keys[1]}"]', item[keys[0]], item[keys[1]]))
            elif isinstance(item, str):
                docs.append(Document(f"{name}[{index}]", "", item))
        return docs
    return []


def look_budget(context_window_tokens: int) -> int:
    """Characters of passages for a model with this window: about a fourteenth of it, within
    3,000-6,000. More is not better: a small model reads slowly (60 tokens/s on two cores) and
    answers from the wrong one of many passages."""
    return max(3_000, min(6_000, context_window_tokens // 4))


class _Index:
    """Per document: where each line starts, and which lines each term hits."""

    def __init__(self, docs: list[Document], terms: list[Term]):
        self.docs = docs
        self.terms = terms
        self.starts = [_line_starts(d.text) for d in docs]
        self.total_lines = sum(len(s) for s in self.starts) or 1
        # hits[t][d] = sorted line numbers (0-based) of document d that term t matches
        self.hits: list[list[list[int]]] = []
        for term in terms:
            per_doc = []
            for doc, starts in zip(docs, self.starts, strict=True):
                lines = sorted(
                    {bisect_right(starts, m.start()) - 1 for m in term.pattern.finditer(doc.text)}
                )
                per_doc.append(lines)
            self.hits.append(per_doc)
        self.weights = [self._weight(t, i) for i, t in enumerate(terms)]
        # A definition is worth twice its name, not its own rarity: `def function` is rare,
        # yet "function" in the query says nothing.
        base = {t.text: w for t, w in zip(terms, self.weights, strict=True) if not t.phrase}
        for i, term in enumerate(terms):
            if term.kind == "definition" and self.weights[i]:
                self.weights[i] = 2.0 * base.get(term.of, 0.0)

    def _weight(self, term: Term, index: int) -> float:
        lines = sum(len(h) for h in self.hits[index])
        if not lines:
            return 0.0
        # Squared, so one rare name the query gives (COPY_BUFSIZE, 4 lines) outranks a window
        # of three common words (Windows, platforms, bytes).
        rarity = math.log(1 + self.total_lines / lines) ** 2
        return rarity * (2.0 if term.phrase else 1.0)

    def named_documents(self) -> dict[int, list[int]]:
        """term -> the documents whose file name it is (`errors.py`, `header` for header.py);
        only terms naming a few documents count."""
        if len(self.docs) < 2:
            return {}
        names = [re.split(r"[\\/]", d.path)[-1].lower() for d in self.docs]
        named = {}
        for t, term in enumerate(self.terms):
            key = term.text.lower()
            hits = [d for d, n in enumerate(names) if n and key in (n, n.rsplit(".", 1)[0])]
            if 0 < len(hits) <= max(1, len(self.docs) // 4):
                named[t] = hits
        return named

    def path_bonus(self) -> list[float]:
        """Per document: as much as the query's rarest word if the query names its file, so
        "the package's errors.py" looks in errors.py first."""
        bonus = [0.0] * len(self.docs)
        top = max(self.weights, default=0.0)
        for hits in self.named_documents().values():
            for d in hits:
                bonus[d] = top
        return bonus


def _line_starts(text: str) -> list[int]:
    starts = [0]
    find = text.find
    pos = find("\n")
    while pos != -1:
        starts.append(pos + 1)
        pos = find("\n", pos + 1)
    return starts


def _windows(index: _Index) -> list[tuple[float, int, int, frozenset[int]]]:
    """(score, document, centre line, terms on the centre line) for every line a term hits,
    best first."""
    bonus = index.path_bonus()
    scored = []
    for d in range(len(index.docs)):
        on_line: dict[int, set[int]] = {}
        for t, per_doc in enumerate(index.hits):
            if index.weights[t] == 0.0:
                continue
            for line in per_doc[d]:
                on_line.setdefault(line, set()).add(t)
        for centre, centre_terms in on_line.items():
            near: set[int] = set()
            for line in range(centre - WINDOW, centre + WINDOW + 1):
                near |= on_line.get(line, set())
            score = sum(index.weights[t] for t in near)
            score += 0.5 * sum(index.weights[t] for t in centre_terms) + bonus[d]
            scored.append((score, d, centre, frozenset(centre_terms)))
    scored.sort(key=lambda s: (-s[0], s[1], s[2]))
    return scored


def _line(doc: Document, starts: list[int], number: int) -> str:
    begin = starts[number]
    end = starts[number + 1] - 1 if number + 1 < len(starts) else len(doc.text)
    line = doc.text[begin:end].rstrip()
    return line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS] + " ..."


def _chars(doc: Document, starts: list[int], first: int, last: int) -> int:
    return sum(len(_line(doc, starts, n)) + 1 for n in range(first, last + 1))


def _render_lines(doc: Document, starts: list[int], first: int, last: int) -> str:
    # No number on each line: a small model answered "141" (a line number) for a section.
    return "\n".join(_line(doc, starts, n) for n in range(first, last + 1))


def _where(index: _Index, names: list[str]) -> str:
    """Which documents hold the query's rarest words, and which words are nowhere: where to
    look next, and which searches are dead ends. Counts are left out on purpose: "lines that
    contain 'class '" is not "classes defined", and a small model would answer with it."""
    rows = []
    if len(index.docs) > 1:
        ranked = sorted(range(len(index.terms)), key=lambda t: -index.weights[t])
        for t in [t for t in ranked if index.weights[t]][:MAX_TERMS_LISTED]:
            in_docs = [d for d, hits in enumerate(index.hits[t]) if hits]
            if len(in_docs) > 5:  # a common word says nothing about where to look
                continue
            if len(rows) == 4:
                break
            shown = ", ".join(names[d] for d in in_docs[:5])
            more = f" and {len(in_docs) - 5} more" if len(in_docs) > 5 else ""
            rows.append(f"- {index.terms[t].text!r} is in {shown}{more}")
    named = index.named_documents()
    for t, hits in named.items():
        docs = ", ".join(f"{index.docs[d].label} ({names[d]})" for d in hits[:3])
        rows.append(f"- {index.terms[t].text!r} names {docs}")
    missing = [
        t.text
        for i, t in enumerate(index.terms)
        if not index.weights[i] and i not in named and t.kind in ("word", "quoted")
    ]
    if missing:
        rows.append("- not in the context: " + ", ".join(repr(m) for m in missing[:8]))
    return "\n".join(rows)


def _pick(index: _Index, budget_chars: int) -> list[tuple[int, int, int]]:
    """(document, first line, last line) of the passages to show, within the budget: first the
    best window of each of the rarest terms (a name the query gives is where its answer is),
    then the best windows overall."""
    windows = _windows(index)
    ranked = sorted(range(len(index.terms)), key=lambda t: -index.weights[t])
    rare = [t for t in ranked if 0 < sum(len(h) for h in index.hits[t]) <= RARE_LINES]
    order = []
    for t in rare[:3]:  # its best window in each of two documents (two `def dedent`s)
        best: dict[int, tuple[float, int, int, frozenset[int]]] = {}
        for w in windows:
            if t in w[3] and w[1] not in best:
                best[w[1]] = w
                if len(best) == 2:
                    break
        order += best.values()
    order += windows
    floor = MIN_RELATIVE_SCORE * windows[0][0] if windows else 0.0
    picked: list[tuple[int, int, int]] = []
    used = 0
    for score, d, centre, _terms in order:
        if len(picked) >= MAX_PASSAGES:
            break
        if score < floor:
            continue
        first = max(0, centre - WINDOW)
        last = min(len(index.starts[d]) - 1, centre + WINDOW)
        if any(pd == d and first <= b and a <= last for pd, a, b in picked):
            continue
        cost = _chars(index.docs[d], index.starts[d], first, last)
        if picked and used + cost > budget_chars:
            continue
        picked.append((d, first, last))
        used += cost
    # A file the query names is shown even where none of its words are: its opening lines.
    for hits in index.named_documents().values():
        for d in hits:
            if all(pd != d for pd, _a, _b in picked) and len(picked) < MAX_PASSAGES:
                picked.append((d, 0, min(len(index.starts[d]) - 1, 2 * WINDOW)))
    return _merged(picked)


def _merged(passages: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Passages in document order, neighbours joined: section 8 read as one text, not as
    four shuffled pieces of it."""
    out: list[tuple[int, int, int]] = []
    for d, first, last in sorted(passages):
        if out and out[-1][0] == d and first <= out[-1][2] + 2:
            out[-1] = (d, out[-1][1], max(out[-1][2], last))
        else:
            out.append((d, first, last))
    return out


def first_look(
    context: Any, query: str, budget_chars: int, name: str = "context"
) -> FirstLook | None:
    """The best-matching passages of `context` for `query`, within `budget_chars`; None when
    there is nothing to search (no query words, no text) or nothing matched."""
    docs = [d for d in documents(context, name) if "\x00" not in d.text[:4096]]
    if not docs or sum(len(d.text) for d in docs) > MAX_CONTEXT_CHARS:
        return None
    terms = query_terms(query)
    if not terms:
        return None
    index = _Index(docs, terms)
    if not any(index.weights) and not index.named_documents():
        return None
    _common, names = short_paths([d.path or d.label for d in docs])
    blocks = []
    for d, first, last in _pick(index, budget_chars):
        doc = docs[d]
        where = f"{doc.label} ({names[d]})" if doc.path else doc.label
        lines = _render_lines(doc, index.starts[d], first, last)
        blocks.append(f"--- {where}, from line {first + 1}:\n{lines}")
    where = _where(index, names)
    text = (f"Where the query's words are:\n{where}\n\n" if where else "") + "\n\n".join(blocks)
    return FirstLook(text, len(blocks), sum(1 for w in index.weights if w))
