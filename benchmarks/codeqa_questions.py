"""The code-QA set: questions with known answers over packages installed on this machine.

Answers are read from the installed source at run time (ast + the codebase index), so the key
always matches the version measured; the selection is deterministic (names ordered by hash).
Four kinds per package: where a function is defined, which class owns a method, a
parameter's default value, a class's base class.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlm.codebase import Codebase

PACKAGES = ("click", "rich", "requests")
PER_KIND = 3  # questions of each kind per package: 4 kinds x 3 x 3 packages = 36


@dataclass
class Question:
    id: str
    package: str
    kind: str
    question: str
    expected: list[str]  # any one of these in the answer (case-insensitive) scores 1

    def score(self, answer: str) -> float:
        """1 when an expected string appears as a whole token ("utils.py" is not in
        "_internal_utils.py"), case-insensitive."""
        for expected in self.expected:
            pattern = r"(?<![\w.])" + re.escape(expected) + r"(?!\w)"
            if re.search(pattern, answer, re.IGNORECASE):
                return 1.0
        return 0.0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def package_root(package: str) -> Path:
    module = importlib.import_module(package)
    return Path(module.__file__ or "").resolve().parent


def _stable(items: list[Any], key: Any) -> list[Any]:
    return sorted(items, key=lambda x: hashlib.sha256(key(x).encode()).hexdigest())


def _trees(codebase: Codebase, root: Path) -> dict[str, ast.Module]:
    trees = {}
    for entry in codebase.list_files("*.py"):
        try:
            trees[entry["path"]] = ast.parse((root / entry["path"]).read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
    return trees


def build_questions(package: str) -> list[Question]:
    root = package_root(package)
    codebase = Codebase.open(root, use_cache=False)
    trees = _trees(codebase, root)
    defs: Counter[str] = Counter()
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defs[node.name] += 1
    funcs, classes, methods = [], [], []
    for path, tree in trees.items():
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and defs[node.name] == 1:
                funcs.append((path, node))
            if isinstance(node, ast.ClassDef) and defs[node.name] == 1:
                classes.append((path, node))
                for item in node.body:
                    if isinstance(item, ast.FunctionDef) and defs[item.name] == 1:
                        methods.append((path, node, item))
    public = lambda name: not name.startswith("_")  # noqa: E731
    out: list[Question] = []

    def add(kind: str, name: str, question: str, expected: list[str]) -> None:
        out.append(Question(f"{package}/{kind}/{name}", package, kind, question, expected))

    for path, node in _stable([f for f in funcs if public(f[1].name)], lambda f: f[1].name)[
        :PER_KIND
    ]:
        add(
            "file",
            node.name,
            f"In which file of the `{package}` package is the function `{node.name}` defined? "
            "Give the file path.",
            [path],
        )
    for _path, cls, item in _stable(
        [m for m in methods if public(m[2].name) and public(m[1].name)], lambda m: m[2].name
    )[:PER_KIND]:
        add(
            "owner",
            item.name,
            f"Which class in the `{package}` package defines the method `{item.name}`? "
            "Give the class name.",
            [cls.name],
        )
    with_defaults = []
    for path, node in funcs:
        args = node.args.args[len(node.args.args) - len(node.args.defaults) :]
        pairs = list(zip(args, node.args.defaults, strict=True))
        pairs += [
            (a, d) for a, d in zip(node.args.kwonlyargs, node.args.kw_defaults, strict=True) if d
        ]
        for arg, default in pairs:
            # None is a poor key (any "None of..." would match it)
            if (
                public(node.name)
                and isinstance(default, ast.Constant)
                and default.value is not None
            ):
                with_defaults.append((path, node, arg.arg, default.value))
                break
    for _path, node, arg, value in _stable(with_defaults, lambda d: d[1].name)[:PER_KIND]:
        add(
            "default",
            node.name,
            f"In the `{package}` package, what is the default value of the parameter `{arg}` "
            f"of the function `{node.name}`?",
            [repr(value), f'"{value}"'] if isinstance(value, str) else [repr(value)],
        )
    based = [
        (path, node, ast.unparse(node.bases[0]).split(".")[-1])
        for path, node in classes
        if public(node.name) and len(node.bases) == 1 and ast.unparse(node.bases[0]) != "object"
    ]
    for _path, node, base in _stable(based, lambda b: b[1].name)[:PER_KIND]:
        add(
            "base",
            node.name,
            f"In the `{package}` package, which class does `{node.name}` inherit from directly?",
            [base],
        )
    return out


KINDS = ("file", "owner", "default", "base")


def build_set(packages: tuple[str, ...] = PACKAGES) -> list[Question]:
    """All questions, ordered so that any prefix (--limit) mixes kinds and packages: step k
    takes kind k mod 4 of package k mod len(packages), which visits every pair once per
    round when the two counts are coprime (4 and 3)."""
    groups: dict[tuple[str, str], list[Question]] = {}
    for package in packages:
        for question in build_questions(package):
            groups.setdefault((package, question.kind), []).append(question)
    pairs = len(KINDS) * len(packages)
    out: list[Question] = []
    for round_ in range(PER_KIND):
        for k in range(pairs):
            group = groups.get((packages[k % len(packages)], KINDS[k % len(KINDS)]), [])
            if round_ < len(group):
                out.append(group[round_])
    return out
