"""Fill a `LocalIndex` from files: a directory of text files, or JSON Lines documents.

Resumable: after every commit the files it covered are appended to `rlm-ingested.tsv` in the
index directory (path, size, mtime). A rerun skips files listed with the same size and mtime,
and replaces the documents of files that changed, so an interrupted build continues where its
last commit ended and a rebuild after edits touches only what changed.

A text file becomes one document, or several of about `chunk_chars` characters cut at
paragraph breaks (doc_id `path` or `path#N`, metadata `{"path", "chunk"}`). A `.jsonl` file
holds one document per line: `{"doc_id", "content" (or "text"), "metadata"}`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlm.retrieval.protocol import RetrievalError

log = logging.getLogger("rlm.retrieval")
MANIFEST = "rlm-ingested.tsv"
SNIFF_BYTES = 8192
SKIP_DIRS = frozenset({"__pycache__", "node_modules"})


@dataclass
class IngestReport:
    files_total: int = 0
    files_skipped_unchanged: int = 0
    files_added: int = 0
    documents: int = 0
    unreadable: list[tuple[str, str]] = field(default_factory=list)


def source_files(source: Path) -> list[Path]:
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise RetrievalError(f"{source}: no such file or directory")
    out = []
    for root, dirs, files in os.walk(source):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS)
        out.extend(Path(root) / f for f in sorted(files) if not f.startswith("."))
    return out


def chunks(text: str, chunk_chars: int) -> list[str]:
    """Pieces of about `chunk_chars` characters, cut at a paragraph break (else a line break,
    else anywhere) in the last fifth of each piece."""
    if chunk_chars <= 0 or len(text) <= chunk_chars:
        return [text]
    out, start = [], 0
    while start < len(text):
        end = min(start + chunk_chars, len(text))
        if end < len(text):
            floor = start + chunk_chars * 4 // 5
            for sep in ("\n\n", "\n", " "):
                cut = text.rfind(sep, floor, end)
                if cut > start:
                    end = cut + len(sep)
                    break
        out.append(text[start:end])
        start = end
    return out


def _read_manifest(path: Path) -> dict[str, tuple[int, int]]:
    done: dict[str, tuple[int, int]] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            parts = line.split("\t")
            if len(parts) == 3:
                done[parts[0]] = (int(parts[1]), int(parts[2]))
    return done


def _docs_of(file: Path, shown: str, chunk_chars: int) -> Iterator[dict[str, Any]]:
    raw = file.read_bytes()
    if b"\x00" in raw[:SNIFF_BYTES]:
        raise ValueError("binary (NUL bytes)")
    text = raw.decode("utf-8")
    if file.suffix.lower() == ".jsonl":
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                doc = json.loads(line)
                if isinstance(doc, dict):
                    doc.setdefault("doc_id", f"{shown}:{number}")
                yield doc
        return
    pieces = chunks(text, chunk_chars)
    for n, piece in enumerate(pieces):
        doc_id = shown if len(pieces) == 1 else f"{shown}#{n}"
        yield {"doc_id": doc_id, "content": piece, "metadata": {"path": shown, "chunk": n}}


def ingest(
    index: Any,
    source: str | os.PathLike[str],
    *,
    chunk_chars: int = 8_000,
    batch_docs: int = 10_000,
    on_file: Callable[[str, int], None] | None = None,
) -> IngestReport:
    """Add the files under `source` to `index`; `on_file(path, bytes)` after each file."""
    root = Path(source).expanduser()
    files = source_files(root)
    manifest_path = index.path / MANIFEST
    done = _read_manifest(manifest_path)
    report = IngestReport(files_total=len(files))
    pending_files: list[str] = []
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        if batch:
            index.add(batch)
            report.documents += len(batch)
            batch.clear()
        if pending_files:
            with manifest_path.open("a", encoding="utf-8") as out:
                out.writelines(f"{line}\n" for line in pending_files)
            pending_files.clear()

    for file in files:
        shown = file.name if root.is_file() else file.relative_to(root).as_posix()
        stat = file.stat()
        stamp = (stat.st_size, stat.st_mtime_ns)
        if done.get(shown) == stamp:
            report.files_skipped_unchanged += 1
            if on_file:
                on_file(shown, stat.st_size)
            continue
        if shown in done:  # changed since last time: drop its old chunks first
            index.delete({"path": shown})
        try:
            batch.extend(_docs_of(file, shown, chunk_chars))
        except (OSError, ValueError) as exc:  # UnicodeDecodeError and JSON errors included
            report.unreadable.append((shown, str(exc)))
            log.warning("skipped %s: %s", shown, exc)
        else:
            report.files_added += 1
        pending_files.append(f"{shown}\t{stamp[0]}\t{stamp[1]}")
        if len(batch) >= batch_docs:
            flush()
        if on_file:
            on_file(shown, stat.st_size)
    flush()
    index.wait_merges()
    return report
