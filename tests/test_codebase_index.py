"""The repository index: discovery rules, symbols, the content-hash cache, handles and spans."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rlm.codebase import Codebase, CodebaseError, Index, handle_of
from rlm.codebase.bounds import MAX_RESPONSE_BYTES, MAX_SPAN_LINES


def write(root: Path, label: str, text: str | bytes) -> Path:
    path = root / label
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    write(root, ".gitignore", "*.log\nsecret/\n!keep.log\n")
    write(root, "app/main.py", "import os\n\n\nclass Server:\n    def start(self):\n        pass\n")
    write(
        root,
        "app/util.js",
        "function helper(a) {\n  return a;\n}\nclass Widget {\n  draw() {}\n}\n",
    )
    write(root, "app/sub/.gitignore", "local.txt\n")
    write(root, "app/sub/local.txt", "ignored by a nested .gitignore\n")
    write(root, "app/sub/kept.go", "package sub\n\nfunc Run() {}\n")
    write(root, "debug.log", "ignored\n")
    write(root, "keep.log", "re-included by !keep.log\n")
    write(root, "secret/key.txt", "ignored directory\n")
    write(root, "node_modules/dep/index.js", "vendored\n")
    write(root, "dist/bundle.min.js", "generated\n")
    write(root, "image.png", b"\x89PNG\r\n\x1a\n\x00\x00binary")
    return root


def test_discovery_respects_gitignore_and_default_skips(repo: Path, tmp_path: Path) -> None:
    cb = Codebase.open(repo, cache_dir=tmp_path / "cache")
    labels = [f["path"] for f in cb.list_files()]
    assert labels == [".gitignore", "app/main.py", "app/sub/.gitignore", "app/sub/kept.go",
                      "app/util.js", "keep.log"]  # fmt: skip
    entry = next(f for f in cb.list_files("*.py"))
    assert entry == {"path": "app/main.py", "handle": handle_of("app/main.py"),
                     "language": "python", "lines": 6, "bytes": 60}  # fmt: skip
    assert [f["path"] for f in cb.list_files("app/sub/*")] == [
        "app/sub/.gitignore",
        "app/sub/kept.go",
    ]


def test_symbols_from_ast_and_tree_sitter(repo: Path, tmp_path: Path) -> None:
    cb = Codebase.open(repo, cache_dir=tmp_path / "cache")
    found = {(s["qualname"], s["kind"], s["path"], s["start"], s["end"]) for s in cb.symbols("")}
    assert ("Server", "class", "app/main.py", 4, 6) in found
    assert ("Server.start", "method", "app/main.py", 5, 6) in found
    assert ("helper", "function", "app/util.js", 1, 3) in found
    assert ("Widget.draw", "method", "app/util.js", 5, 5) in found
    assert ("Run", "function", "app/sub/kept.go", 3, 3) in found
    # exact name first, then prefixes, then substrings of qualified names
    assert [s["qualname"] for s in cb.symbols("start")] == ["Server.start"]
    outline = cb.outline(handle_of("app/util.js"))
    assert [s["qualname"] for s in outline["symbols"]] == ["helper", "Widget", "Widget.draw"]


def test_cache_updates_by_content_hash(repo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = Index.open(repo, cache_dir=cache)
    assert len(list(cache.iterdir())) == 1
    second = Index.open(repo, cache_dir=cache)  # loaded from the cache: nothing re-read
    assert second.files == first.files
    main = repo / "app/main.py"
    os.utime(main, ns=(1, 1))  # stat changed, content the same: re-hashed, not re-parsed
    stats = second.update()
    assert (stats.touched, stats.changed, stats.added, stats.removed) == (1, 0, 0, 0)
    main.write_text("def renamed():\n    return 1\n")
    write(repo, "app/new.py", "def fresh():\n    pass\n")
    (repo / "keep.log").unlink()
    stats = second.update()
    assert (stats.changed, stats.added, stats.removed) == (1, 1, 1)
    assert [s["name"] for s in second.files["app/main.py"]["symbols"]] == ["renamed"]
    third = Index.open(repo, cache_dir=cache)
    assert third.files == second.files


def test_symlinks_never_lead_outside(repo: Path, tmp_path: Path) -> None:
    outside = write(tmp_path, "outside/secret.txt", "TOP SECRET\n")
    os.symlink(outside, repo / "link_out.txt")
    os.symlink(outside.parent, repo / "dir_out")
    os.symlink(repo / "app/main.py", repo / "link_in.py")
    cb = Codebase.open(repo, use_cache=False)
    labels = {f["path"] for f in cb.list_files()}
    assert "link_out.txt" not in labels and not any(lbl.startswith("dir_out") for lbl in labels)
    assert "link_in.py" in labels
    assert cb.search_code("TOP SECRET")["hits"] == []
    # A file swapped for a link after indexing is refused at read time.
    victim = repo / "app/main.py"
    victim.unlink()
    os.symlink(outside, victim)
    with pytest.raises(CodebaseError, match="outside the repository") as err:
        cb.read_span(handle_of("app/main.py"))
    assert str(tmp_path) not in str(err.value)


def test_spans_are_bounded_and_continue(tmp_path: Path) -> None:
    root = tmp_path / "r"
    lines = [f"value_{i} = {i}  # {'x' * (i % 50)}\n" for i in range(1, 1001)]
    write(root, "big.py", "".join(lines))
    write(root, "wide.txt", "y" * 20_000 + "\nshort\n")
    cb = Codebase.open(root, use_cache=False)
    handle = handle_of("big.py")
    pieces, cursor, calls = [], handle, 0
    while cursor:
        span = cb.read_span(cursor)
        calls += 1
        assert span["end"] - span["start"] + 1 <= MAX_SPAN_LINES
        assert len(span["text"].encode()) <= MAX_RESPONSE_BYTES
        pieces.append(span["text"])
        cursor = span["next"]
    assert "".join(pieces) == "".join(lines)
    assert calls >= 1000 // MAX_SPAN_LINES
    numbered = cb.read_span(handle, 10, 11, numbered=True)["text"]
    assert numbered == f"10: {lines[9]}11: {lines[10]}"
    wide = cb.read_span(handle_of("wide.txt"))
    assert wide["cut_line"] == 1 and wide["next"] == f"{handle_of('wide.txt')}:2"
    assert len(wide["text"].encode()) <= MAX_RESPONSE_BYTES


def test_search_and_errors(repo: Path) -> None:
    cb = Codebase.open(repo, use_cache=False)
    hits = cb.search_code("def start")["hits"]
    assert [(h["path"], h["line"]) for h in hits] == [("app/main.py", 5)]
    assert [h["line"] for h in cb.search_code(r"^(class|function) \w+", regex=True)["hits"]] == [
        4, 1, 4
    ]  # fmt: skip
    assert cb.search_code("pass", glob="*.js")["hits"] == []
    assert cb.search_code("e", max_results=2)["truncated"]
    with pytest.raises(CodebaseError, match="bad regex"):
        cb.search_code("(", regex=True)
    with pytest.raises(CodebaseError, match="unknown handle"):
        cb.read_span("f_000000000000")
    with pytest.raises(CodebaseError):
        Codebase.open(repo / "app/main.py")


def test_a_backtracking_regex_is_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import rlm.codebase.repo as repo_module

    write(tmp_path / "r", "a.txt", "x" * 3000 + "\n")
    monkeypatch.setattr(repo_module, "SEARCH_SECONDS", 0.2)
    found = Codebase.open(tmp_path / "r", use_cache=False).search_code("(x+x+)+y", regex=True)
    assert found["hits"] == [] and "backtracks" in found["truncated"]
