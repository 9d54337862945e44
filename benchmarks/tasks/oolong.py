"""OOLONG-style aggregation and OOLONG-Pairs-style pair queries over labelled records.

Each record is one line, shaped like OOLONG's trec_coarse split:
    Date: 2023-03-14 || User: 48213 || Instance: Where is Oldford located? || Label: location
The instance is a templated question whose TREC coarse category is its label, so the label can
also be inferred from the text (`hidden_labels=True` drops the explicit label, as in OOLONG,
where the model must classify every line itself).

Aggregation questions: how many records carry a label (numeric, scored 0.75^|y - y_hat|) and
which label is the most frequent (exact). Pair questions: every pair of users who both have a
record with a rare label, scored by F1 over the set of pairs.
"""

from __future__ import annotations

import random
import re
from itertools import combinations

from benchmarks.tasks.base import CHARS_PER_TOKEN, Task, last_integer, normalize
from benchmarks.tasks.text import FIRST_NAMES, OBJECTS, SUBJECTS, VERBS, place_names

LABELS = ["abbreviation", "entity", "description", "human", "location", "numeric"]

_THINGS = ["stamps", "coins", "bridges", "lanterns", "letters", "maps", "shells", "clocks"]


def _instance(rng: random.Random, label: str, places: list[str]) -> str:
    place = rng.choice(places)
    name = rng.choice(FIRST_NAMES)
    if label == "abbreviation":
        abbr = "".join(rng.choice("ABCDEFGHKLMNPRSTW") for _ in range(rng.randint(2, 4)))
        return f"What does {abbr} stand for?"
    if label == "entity":
        return f"What kind of {rng.choice(_THINGS)[:-1]} did {name} bring from {place}?"
    if label == "description":
        return (
            f"Why was {rng.choice(OBJECTS)} {rng.choice(VERBS)} by {rng.choice(SUBJECTS).lower()}?"
        )
    if label == "human":
        return f"Who {rng.choice(VERBS)} {rng.choice(OBJECTS)} in {place}?"
    if label == "location":
        return f"Where did {name} find {rng.choice(OBJECTS)}?"
    return f"How many {rng.choice(_THINGS)} did {name} count in {place}?"


def _records(
    tokens: int, rng: random.Random, weights: list[float], hidden_labels: bool
) -> list[tuple[int, str, str]]:
    """(user, label, instance) rows that render to about `tokens` tokens."""
    target = tokens * CHARS_PER_TOKEN
    places = place_names(rng, 40)
    n_users = max(8, target // 600)
    users = rng.sample(range(10_000, 99_999), n_users)
    rows: list[tuple[int, str, str]] = []
    size = 0
    while size < target:
        label = rng.choices(LABELS, weights=weights)[0]
        user = rng.choice(users)
        instance = _instance(rng, label, places)
        rows.append((user, label, instance))
        # the rendered line: "Date: ... || User: ... || Instance: " is 46 characters
        size += 47 + len(instance) + (0 if hidden_labels else 11 + len(label))
    return rows


def _render(rows: list[tuple[int, str, str]], rng: random.Random, hidden_labels: bool) -> str:
    lines = []
    for user, label, instance in rows:
        date = f"2023-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        line = f"Date: {date} || User: {user} || Instance: {instance}"
        if not hidden_labels:
            line += f" || Label: {label}"
        lines.append(line)
    return "\n".join(lines)


_PREAMBLE = (
    "The following lines are records. Each has a date, a user ID, an instance (a question) "
    "and its label, one of: " + ", ".join(LABELS) + ".\n"
)
_PREAMBLE_HIDDEN = (
    "The following lines are records. Each has a date, a user ID and an instance (a question). "
    "Each instance belongs to exactly one category (its label): " + ", ".join(LABELS) + ".\n"
)


def score_count(prediction: str, gold: int) -> float:
    guess = last_integer(prediction)
    if guess is None:
        return 0.0
    return 0.75 ** abs(int(gold) - guess)


def score_label(prediction: str, gold: str) -> float:
    """1 when the first label the answer names is the gold one."""
    text = normalize(prediction)
    hits = [(m.start(), lab) for lab in LABELS for m in re.finditer(rf"\b{lab}\b", text)]
    if not hits:
        return 0.0
    return 1.0 if min(hits)[1] == gold else 0.0


def make_oolong(
    tokens: int, seed: int = 0, question: str = "count", hidden_labels: bool = False
) -> Task:
    rng = random.Random(f"oolong-{tokens}-{seed}-{question}")
    weights = [rng.uniform(0.5, 3.0) for _ in LABELS]
    rows = _records(tokens, rng, weights, hidden_labels)
    counts = {lab: sum(1 for _, label, _ in rows if label == lab) for lab in LABELS}
    top = max(counts.values())
    leaders = [lab for lab in LABELS if counts[lab] == top]
    if len(leaders) > 1:  # make the most frequent label unique: relabel one record
        winner, loser = leaders[0], leaders[1]
        for i, (user, label, _) in enumerate(rows):
            if label == loser:
                rows[i] = (user, winner, _instance(rng, winner, place_names(rng, 5)))
                counts[winner] += 1
                counts[loser] -= 1
                break
    preamble = _PREAMBLE_HIDDEN if hidden_labels else _PREAMBLE
    context = preamble + _render(rows, rng, hidden_labels)
    if question == "count":
        label = rng.choice(LABELS)
        gold: int | str = counts[label]
        text = f"How many records have the label '{label}'? Answer with a single number."
        scorer = score_count
    elif question == "most_frequent":
        gold = max(LABELS, key=lambda lab: counts[lab])
        text = (
            "Which label is the most frequent among all records? "
            "Answer with the label only (one of: " + ", ".join(LABELS) + ")."
        )
        scorer = score_label
    else:
        raise ValueError(f"unknown OOLONG question kind {question!r}: count | most_frequent")
    return Task(
        task_id=f"oolong-{question}-{tokens}-s{seed}",
        family="oolong",
        context=context,
        question=text,
        gold=gold,
        scorer=scorer,
        seed=seed,
        meta={"question": question, "records": len(rows), "hidden_labels": hidden_labels},
    )


_PAIR_RE = re.compile(r"(\d{5})\D{1,5}?(\d{5})")


def parse_pairs(prediction: str) -> set[tuple[int, int]]:
    """Every "(a, b)"-like pair of 5-digit user IDs in the answer, unordered."""
    pairs = set()
    for a, b in _PAIR_RE.findall(prediction):
        x, y = int(a), int(b)
        if x != y:
            pairs.add((min(x, y), max(x, y)))
    return pairs


def score_pairs(prediction: str, gold: list[list[int]]) -> float:
    truth = {(min(a, b), max(a, b)) for a, b in gold}
    guess = parse_pairs(prediction)
    if not truth and not guess:
        return 1.0
    hit = len(truth & guess)
    if hit == 0:
        return 0.0
    precision, recall = hit / len(guess), hit / len(truth)
    return 2 * precision * recall / (precision + recall)


def make_pairs(tokens: int, seed: int = 0, hidden_labels: bool = False) -> Task:
    """Pairs of users who both have at least one record with a label given to few users."""
    rng = random.Random(f"pairs-{tokens}-{seed}")
    common = [lab for lab in LABELS if lab != "abbreviation"]
    rows = _records(tokens, rng, [0.0] + [1.0] * len(common), hidden_labels)
    users = sorted({user for user, _, _ in rows})
    chosen = rng.sample(users, min(len(users), rng.randint(4, 7)))
    places = place_names(rng, 10)
    for user in chosen:  # give each chosen user one or two "abbreviation" records
        for _ in range(rng.randint(1, 2)):
            at = rng.randrange(len(rows) + 1)
            rows.insert(at, (user, "abbreviation", _instance(rng, "abbreviation", places)))
    gold = [list(p) for p in combinations(sorted(chosen), 2)]
    preamble = _PREAMBLE_HIDDEN if hidden_labels else _PREAMBLE
    context = preamble + _render(rows, rng, hidden_labels)
    question = (
        "List every pair of user IDs where both users have at least one record with the "
        "label 'abbreviation'. Write each pair once as (smaller ID, larger ID), one per line."
    )
    return Task(
        task_id=f"pairs-{tokens}-s{seed}",
        family="pairs",
        context=context,
        question=question,
        gold=gold,
        scorer=score_pairs,
        seed=seed,
        meta={"users_with_label": len(chosen), "records": len(rows)},
    )
