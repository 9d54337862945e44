"""`Codebase`: one indexed repository seen only through opaque handles and bounded spans.

Every answer names files by a handle (`f_` + 12 hex digits) and a repo-relative label; no
absolute path leaves this object (`scrub` removes the root from any text that might carry it).
Every read re-checks that the file, symlinks resolved, is still inside the repository.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import time
from typing import Any

from rlm.codebase.bounds import MAX_LINE_CHARS, MAX_RESPONSE_BYTES, MAX_SPAN_LINES, clip_text
from rlm.codebase.errors import CodebaseError
from rlm.codebase.index import Index, UpdateStats
from rlm.codebase.walk import WalkOptions, within

MAX_PATTERN_CHARS = 500
REGEX_LINE_CHARS = 4000  # longer lines are searched literally only: bounds regex backtracking
SEARCH_SECONDS = 10.0


def handle_of(label: str) -> str:
    return "f_" + hashlib.sha256(label.encode("utf-8")).hexdigest()[:12]


class Codebase:
    """An indexed repository. Build with `Codebase.open(path)`."""

    def __init__(self, index: Index):
        self.index = index
        self._root_forms = sorted({index.root}, key=len, reverse=True)
        self._by_handle: dict[str, str] = {}
        self._refresh_handles()

    @classmethod
    def open(
        cls,
        repo: str | os.PathLike[str],
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        use_cache: bool = True,
        options: WalkOptions | None = None,
    ) -> Codebase:
        codebase = cls(Index.open(repo, cache_dir=cache_dir, use_cache=use_cache, options=options))
        given = os.path.abspath(repo)
        codebase._root_forms = sorted({codebase.index.root, given}, key=len, reverse=True)
        return codebase

    @property
    def name(self) -> str:
        return os.path.basename(self.index.root) or "repo"

    def update(self) -> UpdateStats:
        stats = self.index.update()
        self._refresh_handles()
        return stats

    def _refresh_handles(self) -> None:
        self._by_handle = {handle_of(label): label for label in self.index.files}

    # -- naming ----------------------------------------------------------------------------
    def resolve(self, handle: str) -> tuple[str, int | None]:
        """(label, continuation line or None) of a handle such as `f_0123abcd4567` or `...:201`."""
        if not isinstance(handle, str):
            raise CodebaseError("a handle is a string such as 'f_0123abcd4567'")
        base, _, line = handle.strip().partition(":")
        label = self._by_handle.get(base)
        if label is None:
            raise CodebaseError(
                f"unknown handle {base[:40]!r}: take handles from list_files, search_code or "
                "symbols (they change when a file is renamed)"
            )
        return label, int(line) if line.isdigit() else None

    def scrub(self, text: str) -> str:
        """`text` with the repository's absolute location replaced by '.'."""
        for form in self._root_forms:
            text = text.replace(form, ".")
        return text

    def _entry(self, label: str) -> dict[str, Any]:
        meta = self.index.files[label]
        return {
            "path": label,
            "handle": handle_of(label),
            "language": meta["language"],
            "lines": meta["lines"],
            "bytes": meta["size"],
        }

    def _text(self, label: str) -> str:
        path = os.path.join(self.index.root, label)
        if not within(self.index.root, path):
            raise CodebaseError(f"{label} now points outside the repository; it is not read")
        real = os.path.realpath(path)
        try:
            fd = os.open(real, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            with os.fdopen(fd, "rb") as fh:
                data = fh.read(self.index.options.max_file_bytes + 1)
        except OSError as exc:
            raise CodebaseError(f"cannot read {label}: {exc.strerror}") from None
        return data.decode("utf-8", "replace")

    # -- queries -----------------------------------------------------------------------------
    def list_files(self, glob: str | None = None) -> list[dict[str, Any]]:
        """Every indexed file (sorted by path), optionally filtered by a shell-style glob."""
        return [self._entry(label) for label in sorted(self.index.files) if _matches(label, glob)]

    def read_span(
        self, handle: str, start: int | None = None, end: int | None = None, numbered: bool = False
    ) -> dict[str, Any]:
        """Lines `start`..`end` (1-based, inclusive) of a file: at most 200 lines and 8 KB.

        `next` is the continuation handle (`<handle>:<line>`) when the file goes on past what
        was returned; pass it back as the handle to read on."""
        label, continuation = self.resolve(handle)
        if start is None:
            start = continuation or 1
        start = max(1, int(start))
        lines = _split_lines(self._text(label))
        last = min(len(lines), start + MAX_SPAN_LINES - 1)
        if end is not None:
            last = min(last, max(int(end), start))
        out: list[str] = []
        used = 0
        cut_line = None
        line_no = start - 1
        for line_no in range(start, last + 1):
            piece = f"{line_no}: {lines[line_no - 1]}" if numbered else lines[line_no - 1]
            size = len(piece.encode("utf-8"))
            if used + size > MAX_RESPONSE_BYTES - 512:
                if not out:  # one huge line: send its head, say it was cut
                    piece, _ = clip_text(piece, MAX_RESPONSE_BYTES - 512)
                    out.append(piece + "\n")
                    cut_line = line_no
                else:
                    line_no -= 1
                break
            out.append(piece)
            used += size
        end_line = line_no if out else start - 1
        handle_base = handle_of(label)
        more = end_line < len(lines)
        result = {
            "path": label,
            "handle": handle_base,
            "start": start,
            "end": end_line,
            "total_lines": len(lines),
            "text": "".join(out),
            "next": f"{handle_base}:{end_line + 1}" if more else None,
        }
        if cut_line is not None:
            result["cut_line"] = cut_line
        return result

    def search_code(
        self,
        pattern: str,
        regex: bool = False,
        glob: str | None = None,
        max_results: int = 100,
    ) -> dict[str, Any]:
        """Lines matching `pattern` (literal, or a Python regex): {"hits", "truncated"}."""
        if not isinstance(pattern, str) or not pattern:
            raise CodebaseError("search_code needs a non-empty pattern string")
        if len(pattern) > MAX_PATTERN_CHARS:
            raise CodebaseError(f"the pattern is over {MAX_PATTERN_CHARS} characters; shorten it")
        matcher = _matcher(pattern, regex)
        hits: list[dict[str, Any]] = []
        deadline = time.monotonic() + SEARCH_SECONDS
        truncated = None
        for label in sorted(self.index.files):
            if not _matches(label, glob):
                continue
            if time.monotonic() > deadline:
                truncated = "time limit: narrow the pattern or pass a glob"
                break
            try:
                matched = [
                    (number, line)
                    for number, line in enumerate(_split_lines(self._text(label)), 1)
                    if matcher(line, deadline - time.monotonic())
                ]
            except _SearchTimeout:
                truncated = "time limit: the regex backtracks too much; simplify it"
                break
            for number, line in matched:
                text, _ = clip_text(line.rstrip("\n"), MAX_LINE_CHARS)
                hits.append(
                    {"path": label, "handle": handle_of(label), "line": number, "text": text}
                )
                if len(hits) >= max_results:
                    truncated = f"more than {max_results} hits: narrow the pattern or glob"
                    break
            if truncated:
                break
        return {"hits": hits, "truncated": truncated}

    def symbols(self, query: str, kind: str | None = None) -> list[dict[str, Any]]:
        """Definitions whose name contains `query` (case-insensitive): exact names first."""
        if not isinstance(query, str):
            raise CodebaseError("symbols needs a query string, e.g. symbols('parse')")
        needle = query.strip().lower()
        ranked = []
        for label in sorted(self.index.files):
            for sym in self.index.files[label]["symbols"]:
                if kind and sym["kind"] != kind:
                    continue
                name, qualname = sym["name"].lower(), sym["qualname"].lower()
                if needle in (name, qualname):
                    rank = 0
                elif name.startswith(needle):
                    rank = 1
                elif needle in qualname:
                    rank = 2
                else:
                    continue
                ranked.append((rank, label, sym))
        ranked.sort(key=lambda r: (r[0], r[1], r[2]["start"]))
        return [{**sym, "path": label, "handle": handle_of(label)} for _rank, label, sym in ranked]

    def outline(self, handle: str) -> dict[str, Any]:
        """A file's definitions in source order, with their line ranges."""
        label, _ = self.resolve(handle)
        meta = self.index.files[label]
        return {**self._entry(label), "symbols": list(meta["symbols"])}

    def summary(self, max_dirs: int = 40) -> dict[str, Any]:
        """Compact JSON data describing the repository: what `rlm code` binds as `context`.

        Small on purpose (a model that prints it whole must not flood its window): counts per
        language and per top-level directory; `list_files()` gives the files themselves."""
        languages: dict[str, int] = {}
        directories: dict[str, int] = {}
        for label, meta in self.index.files.items():
            languages[meta["language"]] = languages.get(meta["language"], 0) + 1
            top = label.split("/", 1)[0] + "/" if "/" in label else "(root)"
            directories[top] = directories.get(top, 0) + 1
        biggest = sorted(directories.items(), key=lambda kv: -kv[1])[:max_dirs]
        return {
            "repository": self.name,
            "file_count": len(self.index.files),
            "total_lines": sum(m["lines"] for m in self.index.files.values()),
            "languages": dict(sorted(languages.items(), key=lambda kv: -kv[1])),
            "files_per_directory": dict(sorted(biggest)),
            "next_step": "symbols('name') or search_code('text') to find code, then "
            "read_span(handle, start, end, numbered=True)",
        }


def _split_lines(text: str) -> list[str]:
    """Lines with their newline kept, split on "\\n" only, so spans concatenate to the file."""
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _matches(label: str, glob: str | None) -> bool:
    if not glob:
        return True
    if "/" not in glob:  # "*.py" matches at any depth, as in .gitignore
        return fnmatch.fnmatchcase(os.path.basename(label), glob)
    return fnmatch.fnmatchcase(label, glob.lstrip("/"))


def _matcher(pattern: str, regex: bool):  # type: ignore[no-untyped-def]
    """A function (line, seconds left) -> bool. Regexes run on the `regex` module when it is
    installed (the `codebase` extra), whose per-call timeout stops catastrophic backtracking;
    with plain `re`, only lines up to REGEX_LINE_CHARS are searched by regex."""
    if not regex:
        return lambda line, _left: pattern in line
    try:
        import regex as engine  # raises the builtin TimeoutError past its timeout
    except ImportError:
        engine = None
    try:
        compiled = (engine or re).compile(pattern)
    except (re.error, getattr(engine, "error", re.error)) as exc:
        raise CodebaseError(
            f"bad regex ({exc}); or pass regex=False for a literal search"
        ) from None
    if engine is None:
        return lambda line, _left: (
            compiled.search(line) is not None if len(line) <= REGEX_LINE_CHARS else pattern in line
        )

    def search(line: str, left: float) -> bool:
        try:
            return compiled.search(line, timeout=max(left, 0.01)) is not None
        except TimeoutError:
            raise _SearchTimeout from None

    return search


class _SearchTimeout(Exception):
    """A regex ran past the search's time limit."""
