"""The long-context task suite, generated offline from seeds (nothing is downloaded).

`build_suite(name, seeds)` returns the tasks of a named suite:
  small    a handful of 8K-32K-token tasks: what a small local model can finish in minutes
  default  8K to 1M tokens across the four families (the paper's Figure 1 x axis)
  full     default plus more sizes and seeds
"""

from __future__ import annotations

from collections.abc import Callable

from benchmarks.tasks.base import Task
from benchmarks.tasks.browsecomp import make_browsecomp
from benchmarks.tasks.niah import make_niah
from benchmarks.tasks.oolong import make_oolong, make_pairs

__all__ = [
    "SUITES",
    "Task",
    "build_suite",
    "make_browsecomp",
    "make_niah",
    "make_oolong",
    "make_pairs",
]

K = 1024

# (family, sizes in tokens); each entry expands to one task per size per seed.
SUITES: dict[str, list[tuple[str, list[int]]]] = {
    "small": [
        ("niah", [8 * K, 32 * K]),
        ("oolong-count", [8 * K]),
        ("oolong-most_frequent", [16 * K]),
        ("pairs", [8 * K]),
        ("browsecomp", [16 * K]),
    ],
    "default": [
        ("niah", [8 * K, 32 * K, 128 * K, 512 * K, 1024 * K]),
        ("oolong-count", [8 * K, 32 * K, 128 * K, 512 * K]),
        ("oolong-most_frequent", [8 * K, 32 * K, 128 * K]),
        ("pairs", [8 * K, 32 * K, 128 * K]),
        ("browsecomp", [128 * K]),
    ],
    "full": [
        ("niah", [8 * K, 16 * K, 32 * K, 64 * K, 128 * K, 256 * K, 512 * K, 1024 * K, 2048 * K]),
        ("oolong-count", [8 * K, 32 * K, 128 * K, 512 * K, 1024 * K]),
        ("oolong-most_frequent", [8 * K, 32 * K, 128 * K, 512 * K]),
        ("pairs", [8 * K, 32 * K, 128 * K, 256 * K]),
        ("browsecomp", [64 * K, 128 * K, 256 * K]),
    ],
}

GENERATORS: dict[str, Callable[[int, int], Task]] = {
    "niah": lambda tokens, seed: make_niah(tokens, seed),
    "oolong-count": lambda tokens, seed: make_oolong(tokens, seed, "count"),
    "oolong-most_frequent": lambda tokens, seed: make_oolong(tokens, seed, "most_frequent"),
    "pairs": lambda tokens, seed: make_pairs(tokens, seed),
    "browsecomp": lambda tokens, seed: make_browsecomp(tokens, seed),
}


def build_suite(
    name: str = "small",
    seeds: list[int] | None = None,
    families: list[str] | None = None,
    max_tokens: int | None = None,
) -> list[Task]:
    if name not in SUITES:
        raise ValueError(f"unknown suite {name!r}; choose one of {', '.join(SUITES)}")
    tasks = []
    for family, sizes in SUITES[name]:
        if families and family not in families and family.split("-")[0] not in families:
            continue
        for tokens in sizes:
            if max_tokens is not None and tokens > max_tokens:
                continue
            for seed in seeds or [0]:
                tasks.append(GENERATORS[family](tokens, seed))
    return tasks
