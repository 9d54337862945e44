"""`rlm index build` (progress, resume, changed files) and `rlm run --index`, through click's
runner with the offline scripted backend."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from cli_support import isolate_cli
from rlm.cli.main import main
from rlm.retrieval import LocalIndex
from rlm.retrieval.ingest import MANIFEST, chunks


@pytest.fixture(autouse=True)
def clean_env(tmp_path, monkeypatch):
    isolate_cli(tmp_path, monkeypatch)
    monkeypatch.chdir(tmp_path)


def invoke(args):
    return CliRunner().invoke(main, args, catch_exceptions=False)


def corpus(tmp_path):
    root = tmp_path / "corpus"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("The harbour master is Ines Vo.")
    (root / "sub" / "b.md").write_text("Budget notes.\n\n" + "filler words here. " * 30)
    (root / "logo.png").write_bytes(b"\x89PNG\x00\x00binary")
    (root / "docs.jsonl").write_text(
        json.dumps({"doc_id": "j1", "content": "lighthouse keeper", "metadata": {"lang": "en"}})
        + "\n"
    )
    return root


def test_build_resume_and_changed_files(tmp_path):
    root, index = corpus(tmp_path), tmp_path / "idx"
    first = invoke(["index", "build", str(root), "--index", str(index), "--chunk-chars", "200"])
    assert first.exit_code == 0, first.output
    assert "skipped logo.png" in first.stderr
    built = LocalIndex(index, create=False)
    assert built.get("a.txt")["content"] == "The harbour master is Ines Vo."
    assert built.get("j1")["metadata"] == {"lang": "en"}
    b_chunks = [h["doc_id"] for h in built.search("filler", 10)]
    assert len(b_chunks) > 1 and all(d.startswith("sub/b.md#") for d in b_chunks)
    assert len((index / MANIFEST).read_text().splitlines()) == 4

    again = invoke(["index", "build", str(root), "--index", str(index), "-q"])
    assert "this run added 0 from 0 files, 4 unchanged files skipped" in again.stdout

    (root / "sub" / "b.md").write_text("Short budget notes now.")
    os.utime(root / "sub" / "b.md", ns=(1, 1))
    third = invoke(["index", "build", str(root), "--index", str(index), "-q"])
    assert "added 1 from 1 files" in third.stdout
    reread = LocalIndex(index, create=False)
    assert [h["doc_id"] for h in reread.search("budget", 10)] == ["sub/b.md"]


def test_run_with_index_lets_the_model_search(tmp_path):
    root, index = corpus(tmp_path), tmp_path / "idx"
    invoke(["index", "build", str(root), "--index", str(index), "-q"])
    code = '```repl\nprint(es_get(es_search("harbour master")[0]["doc_id"])["content"])\n```'
    result = invoke(
        [
            "run", "Who is the harbour master?", "--index", str(index), "--no-log", "-q",
            "--backend", "scripted", "--environment", "local",
            "--backend-kwargs", json.dumps({"responses": [code, "FINAL(Ines Vo)"]}),
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Ines Vo\n"
    missing = invoke(["run", "q", "--index", str(tmp_path / "none"), "--backend", "scripted"])
    assert missing.exit_code == 2 and "rlm index build" in missing.stderr


def test_chunks_cut_at_paragraphs():
    text = "one two three.\n\n" * 20
    pieces = chunks(text, 100)
    assert "".join(pieces) == text
    assert all(p.endswith("\n\n") for p in pieces[:-1]) and max(map(len, pieces)) <= 100
