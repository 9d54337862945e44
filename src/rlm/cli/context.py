"""Turn `--context` arguments into the value the REPL sees as `context`.

One file (or stdin) gives its content: a str, or the parsed value for JSON. Several files, a
directory or a glob give a list of documents `{"path": ..., "content": ...}`. Files ending in
.gz, .bz2 or .xz are read decompressed. Problems are
reported before anything runs or any log is written.
"""

from __future__ import annotations

import bz2
import glob
import gzip
import json
import lzma
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from rlm.errors import ConfigurationError

GLOB_CHARS = set("*?[")
SNIFF_BYTES = 8192
# Directories never worth sending to a model (hidden ones, like .git, are skipped too).
SKIP_DIRS = frozenset({"__pycache__", "node_modules"})
# Compressed text is read decompressed, up to a bound (a small archive can expand enormously).
COMPRESSED = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
MAX_DECOMPRESSED = 512 * 2**20


class ContextError(ConfigurationError):
    """A `--context` argument cannot be used; the message names the path and what to do."""


@dataclass
class LoadedContext:
    value: Any
    documents: list[str] = field(default_factory=list)  # paths (or "<stdin>") in order
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    notes: list[str] = field(default_factory=list)  # how a file was read, when it matters
    chars: int = 0


def _decode(raw: bytes, where: str, notes: list[str]) -> str:
    if b"\x00" in raw[:SNIFF_BYTES]:
        raise ContextError(f"{where}: looks binary (NUL bytes); only text and JSON are supported")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        # Old changelogs, AUTHORS files and HTML pages are Latin-1 (24 of /usr/share/doc's
        # 4,238 text files here): text all the same, and every byte has a Latin-1 reading.
        notes.append(f"{where}: not UTF-8 (byte {exc.start}), read as Latin-1")
        return raw.decode("latin-1")


def _parse(text: str, where: str, suffix: str) -> Any:
    if suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ContextError(
                f"{where}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
            ) from exc
    if suffix == ".jsonl":
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ContextError(f"{where}:{number}: invalid JSON line: {exc.msg}") from exc
        return rows
    return text


def _read_file(path: Path, shown: str, notes: list[str]) -> Any:
    suffix = path.suffix.lower()
    opener = COMPRESSED.get(suffix)
    try:
        if opener is None:
            raw = path.read_bytes()
        else:  # Debian ships its man pages and most of /usr/share/doc gzipped
            suffix = Path(path.stem).suffix.lower()  # `data.json.gz` is JSON
            with opener(path, "rb") as stream:
                raw = stream.read(MAX_DECOMPRESSED + 1)
            if len(raw) > MAX_DECOMPRESSED:
                raise ContextError(
                    f"{shown}: decompresses to over {MAX_DECOMPRESSED // 2**20} MB; "
                    "decompress it yourself and pass the parts you need"
                )
    except (OSError, EOFError, lzma.LZMAError, zlib.error) as exc:
        why = getattr(exc, "strerror", None) or exc
        raise ContextError(f"{shown}: cannot read it ({why})") from exc
    return _parse(_decode(raw, shown, notes), shown, suffix)


def _read_stdin(stream: IO[bytes] | IO[str], notes: list[str]) -> Any:
    data = stream.read()
    text = _decode(data, "<stdin>", notes) if isinstance(data, bytes) else data
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        # JSON on stdin is parsed when it is JSON; text that merely starts with a bracket stays.
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    return text


def _walk(directory: Path) -> list[Path]:
    out = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS)
        out.extend(Path(root) / f for f in sorted(files) if not f.startswith("."))
    return out


def _shown(path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


def _is_empty(value: Any) -> bool:
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, dict)):
        return len(value) == 0
    return value is None


def load_context(args: list[str], stdin: IO[bytes] | IO[str] | None = None) -> LoadedContext:
    """Read every `--context` argument. Raises `ContextError` with a message for the user."""
    documents: list[tuple[str, Any]] = []
    skipped: list[tuple[str, str]] = []
    notes: list[str] = []
    seen: set[Path] = set()
    single_source = len(args) == 1

    def add_file(path: Path, explicit: bool) -> None:
        nonlocal single_source
        key = path.resolve()
        if key in seen:
            return
        seen.add(key)
        shown = _shown(path)
        if explicit:
            documents.append((shown, _read_file(path, shown, notes)))
            return
        try:
            documents.append((shown, _read_file(path, shown, notes)))
        except ContextError as exc:
            # Inside a directory, a stray image or unreadable file is skipped (and reported);
            # a file named on the command line is an error.
            skipped.append((shown, str(exc).split(": ", 1)[-1]))

    for arg in args:
        if arg == "-":
            if stdin is None:
                raise ContextError("--context -: no standard input to read")
            documents.append(("<stdin>", _read_stdin(stdin, notes)))
            continue
        path = Path(arg).expanduser()
        if path.is_dir():
            single_source = False
            files = _walk(path)
            if not files:
                raise ContextError(f"{arg}: the directory has no files")
            for f in files:
                add_file(f, explicit=False)
        elif path.exists():
            if not path.is_file():
                raise ContextError(f"{arg}: not a regular file")
            add_file(path, explicit=True)
        elif GLOB_CHARS & set(arg):
            single_source = False
            matches = sorted(glob.glob(os.path.expanduser(arg), recursive=True))
            files = [Path(m) for m in matches if Path(m).is_file()]
            if not files:
                raise ContextError(f"{arg}: no file matches this pattern")
            for f in files:
                add_file(f, explicit=False)
        else:
            raise ContextError(f"{arg}: no such file or directory")

    if not documents:
        why = "; ".join(f"{p}: {r}" for p, r in skipped[:5])
        raise ContextError(
            "the context is empty: no readable text or JSON file was found"
            + (f" ({why})" if why else "")
        )
    if all(_is_empty(content) for _, content in documents):
        names = ", ".join(p for p, _ in documents[:5])
        raise ContextError(f"the context is empty: {names} contain(s) no text")

    if single_source and len(documents) == 1:
        value: Any = documents[0][1]
    else:
        value = [{"path": p, "content": c} for p, c in documents]
    chars = sum(
        len(c) if isinstance(c, str) else len(json.dumps(c, default=str)) for _, c in documents
    )
    return LoadedContext(
        value=value, documents=[p for p, _ in documents], skipped=skipped, notes=notes, chars=chars
    )
