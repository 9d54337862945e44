"""The benchmark task suite: generators are deterministic, sized as asked, solvable from the
context alone (the gold answer is re-derived here by parsing the context), and the scorers
grade as the paper does (exact, 0.75^|y - y_hat|, F1)."""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pytest
from benchmarks.tasks import SUITES, build_suite
from benchmarks.tasks.base import last_integer
from benchmarks.tasks.browsecomp import make_browsecomp
from benchmarks.tasks.niah import make_niah
from benchmarks.tasks.oolong import (
    LABELS,
    make_oolong,
    make_pairs,
    parse_pairs,
    score_count,
    score_label,
    score_pairs,
)


@pytest.mark.parametrize(
    "make",
    [
        lambda seed: make_niah(4096, seed),
        lambda seed: make_oolong(4096, seed, "count"),
        lambda seed: make_oolong(4096, seed, "most_frequent"),
        lambda seed: make_pairs(4096, seed),
        lambda seed: make_browsecomp(8192, seed, n_docs=100),
    ],
    ids=["niah", "oolong-count", "oolong-most", "pairs", "browsecomp"],
)
def test_generators_are_deterministic_per_seed(make):
    a, b, c = make(3), make(3), make(4)
    assert (a.context, a.question, a.gold) == (b.context, b.question, b.gold)
    assert a.context != c.context


@pytest.mark.parametrize("tokens", [8 * 1024, 64 * 1024])
def test_sizes_match_the_request(tokens):
    for task in (
        make_niah(tokens),
        make_oolong(tokens),
        make_pairs(tokens),
        make_browsecomp(tokens, n_docs=200),
    ):
        assert abs(task.context_tokens - tokens) / tokens < 0.06, task.task_id


def test_niah_reaches_a_million_tokens_and_the_needle_is_unique():
    task = make_niah(1024 * 1024, seed=1)
    assert task.context_tokens >= 1024 * 1024 - 16
    found = re.findall(r"special magic number for (\w+) is (\d+)", task.context)
    assert found == [(task.meta["key"], task.gold)]
    assert task.score(f"The number is {task.gold}.") == 1.0
    assert task.score(task.gold + "1") == 0.0  # a longer number is not the answer
    assert task.score("I could not find it") == 0.0


def _records(context: str) -> list[tuple[int, str]]:
    return [
        (int(u), lab)
        for u, lab in re.findall(r"User: (\d+) \|\| Instance: .*? \|\| Label: (\w+)", context)
    ]


def test_oolong_gold_matches_the_records():
    count_task = make_oolong(16 * 1024, seed=2, question="count")
    label = re.search(r"label '(\w+)'", count_task.question).group(1)
    counts = Counter(lab for _, lab in _records(count_task.context))
    assert counts[label] == count_task.gold
    assert sum(counts.values()) == count_task.meta["records"]

    most = make_oolong(16 * 1024, seed=2, question="most_frequent")
    counts = Counter(lab for _, lab in _records(most.context))
    (top, n), (_, runner_up) = counts.most_common(2)
    assert top == most.gold and n > runner_up  # unique winner by construction


def test_hidden_labels_leave_only_the_instances():
    task = make_oolong(4096, seed=0, hidden_labels=True)
    assert "|| Label:" not in task.context
    assert all(lab in task.context.splitlines()[0] for lab in LABELS)


def test_count_scoring_is_0_75_to_the_distance():
    assert score_count("42", 42) == 1.0
    assert score_count("The answer is 40.", 42) == pytest.approx(0.75**2)
    assert score_count("1,000", 1000) == 1.0
    assert score_count("no idea", 42) == 0.0
    assert last_integer("there are 3 labels, and the count is 17") == 17


def test_label_scoring_takes_the_first_label_named():
    assert score_label("location", "location") == 1.0
    assert score_label("Location, then numeric.", "location") == 1.0
    assert score_label("numeric, then location", "location") == 0.0
    assert score_label("I don't know", "location") == 0.0


def test_pairs_gold_matches_the_records_and_f1_scoring():
    task = make_pairs(16 * 1024, seed=5)
    holders = sorted({u for u, lab in _records(task.context) if lab == "abbreviation"})
    expected = {(a, b) for i, a in enumerate(holders) for b in holders[i + 1 :]}
    assert {tuple(p) for p in task.gold} == expected
    perfect = "\n".join(f"({a}, {b})" for a, b in task.gold)
    assert task.score(perfect) == 1.0
    half = "\n".join(f"({b}, {a})" for a, b in task.gold[: len(task.gold) // 2])
    p, r = 1.0, (len(task.gold) // 2) / len(task.gold)
    assert task.score(half) == pytest.approx(2 * p * r / (p + r))
    assert score_pairs("(11111, 22222)", [[33333, 44444]]) == 0.0
    assert parse_pairs("12345 and 23456; (34567,45678)") == {(12345, 23456), (34567, 45678)}


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_browsecomp_answer_needs_the_chain_of_documents(seed):
    task = make_browsecomp(32 * 1024, seed=seed, n_docs=300)
    docs = task.context
    assert len(docs) == task.meta["documents"] >= 250
    kind, town, year = re.search(
        r"built the (.+?) in (\w+) that was built in (\d{4})", task.question
    ).groups()
    landmark = [d for d in docs if re.search(rf"is an? {kind} in {town}, built in {year} by", d)]
    assert len(landmark) == 1  # one landmark fits the description
    firm = re.search(r"by (.+? Builders)\.", landmark[0]).group(1)
    firm_docs = [d for d in docs if f"{firm} is a construction firm founded by" in d]
    assert len(firm_docs) == 1
    founder = re.search(r"founded by (\w+ \w+)\.", firm_docs[0]).group(1)
    if task.meta["hops"] == 2:
        assert task.gold == founder
    else:
        born = [d for d in docs if f"{founder} was born in" in d]
        assert len(born) == 1
        assert task.gold == re.search(r"born in (\w+)\.", born[0]).group(1)
    assert task.score(f"It is {task.gold}.") == 1.0
    assert task.score("Nobody") == 0.0


def test_default_browsecomp_has_about_a_thousand_documents():
    task = make_browsecomp(128 * 1024, seed=0)
    assert 950 <= len(task.context) <= 1000


def test_suites_build_and_filter():
    small = build_suite("small")
    assert {t.family for t in small} == {"niah", "oolong", "pairs", "browsecomp"}
    assert max(t.context_tokens for t in small) <= 33 * 1024
    only = build_suite("small", families=["niah"], seeds=[0, 1])
    assert len(only) == 2 * len(dict(SUITES["small"])["niah"])
    assert all(t.family == "niah" for t in only)
    assert build_suite("default", max_tokens=8 * 1024)  # the filter keeps the small ones
