"""Single needle in a haystack (S-NIAH): one sentence carrying a 7-digit number hidden at a
seeded depth in filler prose. Scored 1 when the number appears in the answer, else 0."""

from __future__ import annotations

import random
import re

from benchmarks.tasks.base import CHARS_PER_TOKEN, Task
from benchmarks.tasks.text import filler, place_names


def score_niah(prediction: str, gold: str) -> float:
    return 1.0 if re.search(rf"(?<!\d){re.escape(gold)}(?!\d)", prediction) else 0.0


def make_niah(tokens: int, seed: int = 0) -> Task:
    rng = random.Random(f"niah-{tokens}-{seed}")
    key = place_names(rng, 1)[0]
    number = str(rng.randint(1_000_000, 9_999_999))
    needle = f" The special magic number for {key} is {number}. "
    total = tokens * CHARS_PER_TOKEN
    hay = filler(rng, max(total - len(needle), 0))
    depth = rng.uniform(0.05, 0.95)
    # Insert at a sentence boundary so the needle reads as part of the prose.
    cut = hay.rfind(".", 0, int(len(hay) * depth)) + 1
    context = hay[:cut] + needle + hay[cut:]
    question = (
        f"What is the special magic number for {key} mentioned in the text? "
        "Answer with the number only."
    )
    return Task(
        task_id=f"niah-{tokens}-s{seed}",
        family="niah",
        context=context,
        question=question,
        gold=number,
        scorer=score_niah,
        seed=seed,
        meta={"depth": round(depth, 3), "key": key},
    )
