"""`rlm code`: a model that navigates this repository with the helpers, in the default sandbox."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from cli_support import isolate_cli
from conftest import last_user, repl
from rlm.cli.main import main
from rlm.codebase import Codebase, ask

REPO = Path(__file__).resolve().parents[1]
TARGET = "src/rlm/core/prompts.py"


def _definition(name: str) -> tuple[int, int]:
    tree = ast.parse((REPO / TARGET).read_text())
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
    return node.lineno, node.end_lineno or node.lineno


def navigator(messages: list[dict[str, Any]]) -> str:
    """Plays a model: find the symbol, read its first lines to confirm, answer with the span."""
    seen = last_user(messages)
    step = sum(1 for m in messages if m["role"] == "assistant")
    if step == 0:
        assert "symbols(" in messages[0]["content"]  # the code-navigation prompt lists helpers
        return repl("hits = symbols('build_system_prompt')\nprint(hits[0])")
    if step == 1:
        found = re.search(r"'path': '([^']+)', 'handle': '(f_\w+)'", seen)
        start = re.search(r"'start': (\d+), 'end': (\d+)", seen)
        assert found and start, seen
        return repl(
            f"span = read_span({found.group(2)!r}, {start.group(1)}, {start.group(1)} + 1, "
            f"numbered=True)\nprint(span['path'], span['start'], span['end'])\nprint(span['text'])"
        )
    header = re.search(r"^(\S+) (\d+) \d+$", seen, re.M)
    assert header and "def build_system_prompt(" in seen, seen
    end = re.search(r"'end': (\d+)", "".join(m["content"] for m in messages)).group(1)
    return f"FINAL(build_system_prompt is defined at {header.group(1)}:{header.group(2)}-{end})"


def test_ask_answers_with_a_cited_span_in_the_sandbox() -> None:
    codebase = Codebase.open(REPO, use_cache=False)
    result = ask(
        "Which function builds the root model's system prompt, and where is it?",
        codebase,
        backend="function",
        backend_kwargs={"function": navigator},
        max_iterations=5,
    )
    start, end = _definition("build_system_prompt")
    assert result.response == f"build_system_prompt is defined at {TARGET}:{start}-{end}"
    assert str(REPO) not in result.response


def test_rlm_code_cli(tmp_path: Path, monkeypatch: Any) -> None:
    isolate_cli(tmp_path, monkeypatch)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    script = [
        repl(
            "s = symbols('build_system_prompt')[0]\n"
            "assert 'def build_system_prompt' in read_span(s['handle'], s['start'], s['end'])['text']\n"
            "FINAL(f\"{s['path']}:{s['start']}-{s['end']}\")"
        )
    ]
    result = CliRunner().invoke(
        main,
        ["code", "Where is the system prompt built?", "--repo", str(REPO), "--no-log", "--json",
         "-b", "scripted", "--backend-kwargs", json.dumps({"responses": script})],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    start, end = _definition("build_system_prompt")
    assert json.loads(result.stdout)["response"] == f"{TARGET}:{start}-{end}"
    assert list((tmp_path / "cache" / "rlm" / "codebase").glob("*.json"))  # the index was cached
