"""What a benchmark task is: a context, a question, a gold answer and the scorer that grades
a prediction against it. Tasks are generated from seeds, so the same seed gives the same task
on every machine and nothing is downloaded."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

CHARS_PER_TOKEN = 4  # the usual English average; good enough to size contexts


@dataclass(frozen=True)
class Task:
    task_id: str
    family: str  # niah | oolong | pairs | browsecomp
    context: str | list[str]
    question: str
    gold: Any
    scorer: Callable[[str, Any], float] = field(repr=False, compare=False)
    seed: int = 0
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def context_chars(self) -> int:
        if isinstance(self.context, str):
            return len(self.context)
        return sum(len(doc) for doc in self.context)

    @property
    def context_tokens(self) -> int:
        """Approximate size (4 characters a token), the x axis of every plot."""
        return self.context_chars // CHARS_PER_TOKEN

    def score(self, prediction: str | None) -> float:
        return float(self.scorer(prediction or "", self.gold))

    def context_as_text(self) -> str:
        """The context as one string, for the plain model's prompt."""
        if isinstance(self.context, str):
            return self.context
        return "\n\n".join(self.context)


_INT_RE = re.compile(r"-?\d[\d,]*")


def last_integer(text: str) -> int | None:
    """The number a model most likely meant as its answer: the whole reply when it is a
    number, else the last integer in it (models say "there are 3 labels ... so 42")."""
    stripped = text.strip().rstrip(".")
    try:
        return int(stripped.replace(",", ""))
    except ValueError:
        pass
    found = _INT_RE.findall(text)
    if not found:
        return None
    try:
        return int(found[-1].replace(",", "").rstrip(","))
    except ValueError:
        return None


def normalize(text: str) -> str:
    """Lowercase, drop punctuation and collapse spaces, for lenient exact matching."""
    text = re.sub(r"[^a-z0-9 ]+", " ", text.lower())
    return " ".join(text.split())
