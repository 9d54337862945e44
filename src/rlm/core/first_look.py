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

import math
import re
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any

from rlm.core.constants import annotate, assignments
from rlm.core.context_shape import document_keys, short_paths
from rlm.core.counting import CountCheck, count_check
from rlm.core.query_terms import Term, asks_for_count, asks_for_date, query_terms

__all__ = ["FIRST_LOOK_MAX_WINDOW", "FirstLook", "first_look", "look_budget", "opening_look"]

# With `first_look=None`, root models with windows up to this size get the first look: they
# are the ones that cannot afford to explore a large context turn by turn.
FIRST_LOOK_MAX_WINDOW = 32_768

WINDOW = 2  # lines each side of a centre line that count towards its score and are shown
MAX_LINE_CHARS = 200
MAX_PASSAGES = 8
MAX_TERMS_LISTED = 8
MIN_RELATIVE_SCORE = 0.3  # windows scoring under this share of the best are noise
RARE_LINES = 30  # a term on at most this many lines gets its own passage
MAX_EXTRA_LINES = 12  # lines a passage may grow to close its brackets
MAX_CONTEXT_CHARS = 20_000_000  # past this, searching costs more than it saves: skip


@dataclass(frozen=True)
class Document:
    label: str  # how model code reaches it: context, context[3], context['key']
    path: str
    text: str


@dataclass(frozen=True)
class FirstLook:
    """What the search found, rendered for the model by `text`."""

    text: str
    shown: tuple[str, ...] = ()  # the passages' lines, for checking answers (core/grounding)
    terms: tuple[Term, ...] = ()
    count: bool = False  # the query asks for things to be counted: that needs code
    named: tuple[str, ...] = ()  # expressions of the documents the query names by file name
    date: bool = False  # the query asks for a whole date
    count_check: CountCheck | None = None  # the exact count, when the query says what and how
    count_in: str = "context"  # an expression for the text a count runs over
    # For "which file defines X": (X, the one file whose line defines it, that line)
    defined_in: tuple[str, str, str] | None = None


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
            if term.kind in ("definition", "member") and self.weights[i]:
                factor = 2.0 if term.kind == "definition" else 1.0
                self.weights[i] = factor * base.get(term.of, 0.0)

    def _weight(self, term: Term, index: int) -> float:
        lines = sum(len(h) for h in self.hits[index])
        if not lines:
            return 0.0
        # Squared, so one rare name the query gives (COPY_BUFSIZE, 4 lines) outranks a window
        # of three common words (Windows, platforms, bytes).
        rarity = math.log(1 + self.total_lines / lines) ** 2
        # A phrase the query quotes or a date it asks for is a strong signal; two neighbouring
        # words ("level function") are rare anyway, and doubling them let docstrings that say
        # "module-level function" outrank `def dedent(`.
        return rarity * (1.0 if term.kind in ("word", "pair") else 2.0)

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
    lines = [_line(doc, starts, n) for n in range(first, last + 1)]
    if not any("=" in line for line in lines):
        return "\n".join(lines)
    defined = assignments(doc.text)  # `X = A * 20` gets its value written after it
    return "\n".join(annotate(line, defined) for line in lines)


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
    """(document, first line, last line) of the passages to show, best last: a small model
    answers from what it read last, and the query follows the passages."""
    picked = _choose(index, budget_chars)
    if picked:  # the best passage gets more context around it
        score, d, first, last = max(picked)
        picked[picked.index((score, d, first, last))] = (
            score,
            d,
            max(0, first - WINDOW),
            min(len(index.starts[d]) - 1, last + WINDOW),
        )
    picked = [(s, d, a, _closed(index, d, a, b)) for s, d, a, b in picked]
    return [(d, first, last) for _score, d, first, last in sorted(_merged(picked))]


def _closed(index: _Index, d: int, first: int, last: int) -> int:
    """`last`, moved on (up to MAX_EXTRA_LINES) until the brackets the passage opens are
    closed: `OPEN_METH = {` shown with its entries, not cut after the second."""
    doc, starts = index.docs[d], index.starts[d]
    depth = 0
    for number in range(first, last + 1):
        depth += _bracket_balance(_line(doc, starts, number))
    end = last
    while depth > 0 and end + 1 < len(starts) and end - last < MAX_EXTRA_LINES:
        end += 1
        depth += _bracket_balance(_line(doc, starts, end))
    return end


def _bracket_balance(line: str) -> int:
    return sum(line.count(c) for c in "([{") - sum(line.count(c) for c in ")]}")


def _choose(index: _Index, budget_chars: int) -> list[tuple[float, int, int, int]]:
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
    picked: list[tuple[float, int, int, int]] = []  # (score, document, first, last)
    used = 0
    for score, d, centre, _terms in order:
        if len(picked) >= MAX_PASSAGES:
            break
        if score < floor:
            continue
        first = max(0, centre - WINDOW)
        last = min(len(index.starts[d]) - 1, centre + WINDOW)
        if any(pd == d and first <= b and a <= last for _s, pd, a, b in picked):
            continue
        cost = _chars(index.docs[d], index.starts[d], first, last)
        if picked and used + cost > budget_chars:
            continue
        picked.append((score, d, first, last))
        used += cost
    # A file the query names is shown even where none of its words are: its opening lines.
    for hits in index.named_documents().values():
        for d in hits:
            if all(pd != d for _s, pd, _a, _b in picked) and len(picked) < MAX_PASSAGES:
                picked.append((floor, d, 0, min(len(index.starts[d]) - 1, 2 * WINDOW)))
    return picked


def _merged(passages: list[tuple[float, int, int, int]]) -> list[tuple[float, int, int, int]]:
    """Neighbouring passages joined, with the better score: section 8 read as one text, not
    as four shuffled pieces of it."""
    out: list[tuple[float, int, int, int]] = []
    for score, d, first, last in sorted(passages, key=lambda p: (p[1], p[2])):
        if out and out[-1][1] == d and first <= out[-1][3] + 2:
            best, _d, start, end = out[-1]
            out[-1] = (max(best, score), d, start, max(end, last))
        else:
            out.append((score, d, first, last))
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
    shown: list[str] = []
    for d, first, last in _pick(index, budget_chars):
        doc = docs[d]
        # No line numbers, here or on the lines: a small model answered "141" (a line
        # number) for a section and "200" for a number of days.
        where = f"{names[d]} ({doc.label})" if doc.path else doc.label
        lines = _render_lines(doc, index.starts[d], first, last)
        blocks.append(f"--- {where}:\n{lines}")
        shown += [names[d], *lines.splitlines(), ""]
    where = _where(index, names)
    text = (f"Where the query's words are:\n{where}\n\n" if where else "") + "\n\n".join(blocks)
    named_docs = list(dict.fromkeys(d for hits in index.named_documents().values() for d in hits))
    named = tuple(docs[d].label for d in named_docs)
    count, date = asks_for_count(query), asks_for_date(query)
    counted = named_docs or range(len(docs))
    check = count_check(
        query,
        [docs[d].text for d in counted],
        ", ".join(names[d] for d in named_docs) if named_docs else "the context",
    )
    count_in = _text_expression([docs[d] for d in counted], not named_docs, name)
    defined_in = _defined_in(index, names) if ASKS_WHERE.search(query) else None
    return FirstLook(
        text, tuple(shown), tuple(terms), count, named, date, check, count_in, defined_in
    )


# "Which file/module ... defines", "where is X defined", "in which file".
ASKS_WHERE = re.compile(
    r"\b(?:which|what)\s+(?:\w+\s+){0,2}?(?:file|module)s?\b"
    r"|\bwhere\b[^?]*\b(?:defined|declared|implemented|set)\b",
    re.I,
)


def _defined_in(index: _Index, names: list[str]) -> tuple[str, str, str] | None:
    """The one file that defines the one name of the query that is defined anywhere (a
    top-level definition first, else an indented one); None when that is not one file."""
    for kind in ("definition", "member"):
        places = {
            index.terms[t].of: [(d, n) for d, hits in enumerate(index.hits[t]) for n in hits[:3]]
            for t in range(len(index.terms))
            if index.terms[t].kind == kind and any(index.hits[t])
        }
        if len(places) > 1:
            return None
        if places:
            ((name, docs),) = places.items()
            lines = [(d, _line(index.docs[d], index.starts[d], n).strip()) for d, n in docs]
            # `class Charset:` defines it; `Charset = _charset.Charset` in two other files
            # re-exports it.
            alias = re.compile(rf"{re.escape(name)}\s*=\s*[\w.]+\.{re.escape(name)}\s*$")
            lines = [(d, line) for d, line in lines if not alias.match(line)]
            statements = [(d, line) for d, line in lines if _DEF_OR_CLASS.match(line)]
            lines = statements or lines
            if len({d for d, _ in lines}) != 1:
                return None
            d, line = lines[0]
            return name, names[d], line
    return None


_DEF_OR_CLASS = re.compile(r"(?:async\s+)?(?:def|class)\s")


def _text_expression(docs: list[Document], every: bool, name: str) -> str:
    """Python that gives the text of `docs` (one document, a few named ones joined, or
    `every` document of the context), for the counting example the model is shown."""
    if len(docs) == 1:
        return docs[0].label
    if not every:
        return '"\\n".join([' + ", ".join(d.label for d in docs) + "])"
    item = re.fullmatch(re.escape(name) + r"\[\d+\](.*)", docs[0].label)
    if item is not None and all(d.label.endswith(item.group(1)) for d in docs):
        return f'"\\n".join(doc{item.group(1)} for doc in {name})'
    return f'"\\n".join(v for v in {name}.values() if isinstance(v, str))'


def opening_look(
    context: Any, query: str | None, *, setting: bool | None, window: int, turn: int
) -> FirstLook | None:
    """The first look for a run's opening turn, if it gets one: `setting` (RLM's
    `first_look`) True or False decides; None means "for windows up to 32k tokens". Only a
    run with a query, on its first turn (a persistent session's later turns have history)."""
    enabled = setting if setting is not None else window <= FIRST_LOOK_MAX_WINDOW
    if not enabled or not query or turn:
        return None
    return first_look(context, query, look_budget(window))
