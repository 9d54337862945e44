"""The house rules of docs/design.md, checked on the source: arrows point one way (a lower
package never imports a higher one), no module-level import cycles, small core modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "rlm"

# Floors, lowest first. A module may import its own floor and the floors below it. Anything
# not listed (cli, viewer, retrieval, codebase, agent, batch, serve, ...) is on the top
# floor; `rlm/__init__.py` is the public facade and may import anything.
FLOORS: list[set[str]] = [
    {
        "rlm.types",
        "rlm.errors",
        "rlm._bounded",
        "rlm._registry",
        "rlm.tokens",
        "rlm.trace",
        "rlm._terminal",
    },
    {"rlm.clients", "rlm.environments", "rlm.logger"},
    {"rlm.core"},
]
TOP = len(FLOORS)
# The sandbox worker runs this file on its own (shipped as source): stdlib only.
STDLIB_ONLY = {
    "rlm.environments.runtime",
    "rlm.environments.toolkit",
    "rlm.environments.proxy_runtime",
}
MAX_CORE_LINES = 450


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def resolve(target: str, modules: dict[str, Path]) -> str:
    while target and target not in modules:
        target = target.rpartition(".")[0]
    return target


def floor_of(module: str) -> int:
    for level, prefixes in enumerate(FLOORS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return level
    return TOP


def imports_of(path: Path, *, module_level_only: bool) -> set[str]:
    """`rlm...` modules imported by a file; TYPE_CHECKING blocks do not count."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            is_def = isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            counted = top or not module_level_only
            if isinstance(child, ast.Import) and counted:
                found.update(a.name for a in child.names if a.name.startswith("rlm"))
            elif isinstance(child, ast.ImportFrom) and counted and _ours(child):
                # `from rlm.x import y`: y may be a submodule (resolved by the caller).
                found.update(f"{child.module}.{a.name}" for a in child.names)
            visit(child, top and not is_def)

    visit(tree, True)
    return found


def _ours(node: ast.ImportFrom) -> bool:
    return node.level == 0 and (node.module or "").startswith("rlm")


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def test_lower_floors_never_import_higher_ones():
    wrong = []
    modules = all_modules()
    for module, path in modules.items():
        if module == "rlm":
            continue
        mine = floor_of(module)
        for target in {resolve(t, modules) for t in imports_of(path, module_level_only=False)}:
            if floor_of(target) > mine:
                wrong.append(f"{module} (floor {mine}) imports {target} (floor {floor_of(target)})")
    assert not wrong, "\n".join(sorted(wrong))


def test_the_worker_runtime_imports_nothing_of_ours():
    for module in STDLIB_ONLY:
        assert not imports_of(all_modules()[module], module_level_only=False)


def test_no_module_level_import_cycles():
    modules = all_modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets = set()
        for target in imports_of(path, module_level_only=True):
            target = resolve(target, modules)
            if target and target != module:
                targets.add(target)
        graph[module] = targets
    cycles = []
    state: dict[str, int] = {}

    def dfs(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*stack[stack.index(nxt) :], nxt]))
            elif nxt not in state:
                dfs(nxt, stack)
        stack.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            dfs(module, [])
    assert not cycles, "\n".join(cycles)


@pytest.mark.parametrize("path", sorted((PACKAGE / "core").glob("*.py")), ids=lambda p: p.name)
def test_core_modules_stay_small(path: Path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_CORE_LINES, f"{path.name} has {lines} lines; split it by job"
