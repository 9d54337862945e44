"""Deterministic filler prose and names, built from small word lists and a seed.

Filler must be cheap at a million tokens (4 MB): we build a pool of sentences once and sample
from it, which is fast and still varied enough that a needle cannot be found by looking for
the one line that differs in shape.
"""

from __future__ import annotations

import random

SUBJECTS = [
    "The committee",
    "A small team",
    "The old library",
    "Every engineer",
    "The river valley",
    "Our neighbour",
    "The research group",
    "A travelling merchant",
    "The city council",
    "The museum",
    "A young painter",
    "The orchestra",
    "The village school",
    "A ship captain",
    "The bakery",
    "The mountain guide",
    "A retired teacher",
    "The garden club",
]
VERBS = [
    "discussed",
    "remembered",
    "described",
    "questioned",
    "celebrated",
    "measured",
    "documented",
    "ignored",
    "revisited",
    "praised",
    "studied",
    "mapped",
    "repaired",
    "compared",
    "announced",
    "postponed",
    "imagined",
    "collected",
]
OBJECTS = [
    "the autumn harvest",
    "a forgotten recipe",
    "the northern road",
    "an unusual storm",
    "the annual budget",
    "a wooden bridge",
    "the quiet harbour",
    "the winter festival",
    "an old photograph",
    "the new railway",
    "a lost letter",
    "the evening market",
    "a broken clock",
    "the spring flood",
    "the long debate",
    "a rare bird",
    "the price of bread",
    "a stack of maps",
]
TAILS = [
    "before the sun went down",
    "with great care",
    "for the third time that year",
    "while the rain kept falling",
    "without telling anyone",
    "in a crowded hall",
    "after a long silence",
    "as the bells rang",
    "on a cold morning",
    "with some hesitation",
    "under a grey sky",
    "in front of the whole town",
    "late into the night",
    "during the long summer",
    "between two busy seasons",
    "to everyone's surprise",
]

FIRST_NAMES = [
    "Alice",
    "Bruno",
    "Chen",
    "Dalia",
    "Emeka",
    "Farah",
    "Goran",
    "Hana",
    "Ivo",
    "Jonas",
    "Keiko",
    "Lars",
    "Mirela",
    "Nadia",
    "Oskar",
    "Priya",
    "Quentin",
    "Rosa",
    "Sven",
    "Tariq",
    "Uma",
    "Viktor",
    "Wen",
    "Ximena",
    "Yusuf",
    "Zofia",
]
LAST_NAMES = [
    "Abbott",
    "Baranov",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Fontaine",
    "Gallo",
    "Haddad",
    "Ilves",
    "Jansen",
    "Kowalski",
    "Lindqvist",
    "Moreau",
    "Novak",
    "Okafor",
    "Petrov",
    "Quinn",
    "Rinaldi",
    "Sato",
    "Tanaka",
    "Underwood",
    "Varga",
    "Weber",
    "Yilmaz",
    "Zeller",
]
PLACE_PARTS_A = [
    "North",
    "South",
    "East",
    "West",
    "Old",
    "New",
    "Upper",
    "Lower",
    "Port",
    "Fort",
    "Saint",
    "Lake",
    "Green",
    "Red",
    "Stone",
    "Silver",
]
PLACE_PARTS_B = [
    "haven",
    "ford",
    "field",
    "brook",
    "wick",
    "ton",
    "bury",
    "mouth",
    "vale",
    "ridge",
    "moor",
    "stead",
    "hollow",
    "crest",
    "gate",
    "well",
]


def sentence(rng: random.Random) -> str:
    return f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(TAILS)}."


def filler(rng: random.Random, n_chars: int, pool_size: int = 600) -> str:
    """About `n_chars` characters of prose (never more), in paragraphs of a few sentences."""
    if n_chars <= 0:
        return ""
    pool = [sentence(rng) for _ in range(pool_size)]
    mean = sum(len(s) for s in pool) / len(pool) + 1
    parts: list[str] = []
    size = 0
    while size < n_chars:  # sampling may fall short of the mean: top up until long enough
        picked = rng.choices(pool, k=int((n_chars - size) / mean * 1.02) + 8)
        for i in range(0, len(picked), 6):
            parts.append(" ".join(picked[i : i + 6]))
            size += len(parts[-1]) + 1
    return "\n".join(parts)[:n_chars]


def person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def place_names(rng: random.Random, n: int) -> list[str]:
    """`n` distinct invented place names (at most 256 from the word lists)."""
    all_names = [a + b for a in PLACE_PARTS_A for b in PLACE_PARTS_B]
    if n > len(all_names):
        raise ValueError(f"at most {len(all_names)} distinct place names")
    return rng.sample(all_names, n)


def people(rng: random.Random, n: int) -> list[str]:
    """`n` distinct full names."""
    all_names = [f"{f} {last}" for f in FIRST_NAMES for last in LAST_NAMES]
    return rng.sample(all_names, n)
