"""BrowseComp-Plus-style multi-document questions: a corpus of about 1,000 short documents
(landmarks, construction firms, people) where the answer needs a chain of 2 or 3 of them:

    landmark doc: "<landmark> is a <kind> in <town>, built in <year> by <firm>."
    firm doc:     "<firm> is a construction firm founded by <person>."
    person doc:   "<person> was born in <birthplace>."

2 hops: "Who founded the firm that built the <kind> in <town> in <year>?"  -> person
3 hops: "Where was the founder of the firm that built ... born?"           -> birthplace
Other landmarks share the town or the kind, so no single document answers the question.
Scored 1 when the normalised gold answer appears in the normalised prediction.
"""

from __future__ import annotations

import random

from benchmarks.tasks.base import CHARS_PER_TOKEN, Task, normalize
from benchmarks.tasks.text import LAST_NAMES, filler, people, place_names

KINDS = ["bridge", "lighthouse", "library", "clock tower", "market hall", "railway station"]
ADJECTIVES = [
    "Amber",
    "Blue",
    "Crooked",
    "Distant",
    "Eastern",
    "Fallen",
    "Golden",
    "High",
    "Iron",
    "Jade",
    "King's",
    "Long",
    "Misty",
    "Narrow",
    "Old",
    "Pale",
    "Queen's",
    "Round",
    "Silent",
    "Tall",
    "Upper",
    "Velvet",
    "White",
    "Young",
]
NOUNS = ["Arch", "Beacon", "Crown", "Dome", "Gate", "Hall", "Keep", "Light", "Span", "Spire"]


def score_contains(prediction: str, gold: str) -> float:
    return 1.0 if normalize(gold) in normalize(prediction) else 0.0


def _firms(rng: random.Random, n: int) -> list[str]:
    combos = [f"{a} & {b} Builders" for a in LAST_NAMES for b in LAST_NAMES if a != b]
    return rng.sample(combos, n)


def make_browsecomp(
    tokens: int, seed: int = 0, n_docs: int = 1000, hops: int | None = None
) -> Task:
    """A corpus of `n_docs` documents (fewer when `tokens` is too small to give each one at
    least ~60 tokens) totalling about `tokens` tokens."""
    rng = random.Random(f"browsecomp-{tokens}-{seed}-{n_docs}")
    n_docs = max(12, min(n_docs, tokens // 60))
    hops = hops or rng.choice([2, 3])
    n_land = n_docs // 2
    n_firm = max(3, n_docs // 4)
    n_person = max(3, n_docs - n_land - n_firm)
    towns = place_names(rng, min(256, max(8, n_land // 4)))
    firms = _firms(rng, n_firm)
    persons = people(rng, n_person)
    landmark_names = [f"the {a} {n}" for a in ADJECTIVES for n in NOUNS]
    rng.shuffle(landmark_names)
    founders = {firm: persons[i % n_person] for i, firm in enumerate(firms)}
    birthplaces = {p: rng.choice(towns) for p in persons}
    landmarks = []
    for i in range(n_land):
        name = landmark_names[i % len(landmark_names)]
        if i >= len(landmark_names):
            name += f" {i // len(landmark_names) + 1}"
        landmarks.append(
            {
                "name": name,
                "kind": rng.choice(KINDS),
                "town": rng.choice(towns),
                "year": rng.randint(1820, 1990),
                "firm": rng.choice(firms),
            }
        )
    # The target: a landmark whose (kind, town, year) is unique, built by a firm whose founder
    # founded no other firm (so the chain has one answer).
    seen: dict[tuple[str, str, int], int] = {}
    for lm in landmarks:
        key = (lm["kind"], lm["town"], lm["year"])
        seen[key] = seen.get(key, 0) + 1
    candidates = [lm for lm in landmarks if seen[(lm["kind"], lm["town"], lm["year"])] == 1]
    target = rng.choice(candidates)
    firm = target["firm"]
    founder = founders[firm]
    gold = founder if hops == 2 else birthplaces[founder]

    per_doc = max(0, tokens * CHARS_PER_TOKEN // n_docs - 90)
    docs: list[str] = []
    for lm in landmarks:
        docs.append(
            f"{lm['name'][0].upper() + lm['name'][1:]} is a {lm['kind']} in {lm['town']}, "
            f"built in {lm['year']} by {lm['firm']}. " + filler(rng, per_doc, pool_size=40)
        )
    for f in firms:
        docs.append(
            f"{f} is a construction firm founded by {founders[f]}. "
            + filler(rng, per_doc, pool_size=40)
        )
    for p in persons:
        docs.append(f"{p} was born in {birthplaces[p]}. " + filler(rng, per_doc, pool_size=40))
    rng.shuffle(docs)
    docs = [f"Document {i}: {d}" for i, d in enumerate(docs)]
    where = f"the {target['kind']} in {target['town']} that was built in {target['year']}"
    if hops == 2:
        question = f"Who founded the construction firm that built {where}? Answer with the name."
    else:
        question = (
            f"In which town was the founder of the construction firm that built {where} born? "
            "Answer with the town name."
        )
    return Task(
        task_id=f"browsecomp-{tokens}-s{seed}",
        family="browsecomp",
        context=docs,
        question=question,
        gold=gold,
        scorer=score_contains,
        seed=seed,
        meta={"hops": hops, "documents": len(docs), "firm": firm, "founder": founder},
    )
