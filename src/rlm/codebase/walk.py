"""Find a repository's files: `.gitignore` rules (nested ones too), default skips, no escapes.

Directory symlinks are never followed (no cycles, no way out). A file symlink is kept only when
its target resolves inside the repository; `within` is checked again at every read, because a
file can be swapped for a link after it was indexed.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass

from rlm.codebase.errors import CodebaseError
from rlm.codebase.languages import SKIPPED_DIRS, is_generated
from rlm.errors import MissingDependencyError

log = logging.getLogger("rlm.codebase")

DEFAULT_MAX_FILE_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class Found:
    label: str  # repo-relative, "/"-separated
    size: int
    mtime_ns: int


@dataclass
class WalkOptions:
    respect_gitignore: bool = True
    skip_default_dirs: bool = True  # vendored and generated trees (see languages.SKIPPED_DIRS)
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES


def _gitignore_spec(directory: str) -> object | None:
    path = os.path.join(directory, ".gitignore")
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("cannot read a .gitignore (%s); its rules are not applied", exc.strerror)
        return None
    try:
        import pathspec
    except ImportError as exc:
        raise MissingDependencyError(
            "reading .gitignore needs pathspec: pip install 'rlm[codebase]'"
        ) from exc
    return pathspec.GitIgnoreSpec.from_lines(lines)


def within(root_real: str, path: str) -> bool:
    """True when `path`, with every symlink resolved, lies inside `root_real`."""
    real = os.path.realpath(path)
    return real == root_real or real.startswith(root_real.rstrip(os.sep) + os.sep)


def walk(root: str, options: WalkOptions | None = None) -> Iterator[Found]:
    """Yield the repository's indexable files, sorted by label within each directory."""
    options = options or WalkOptions()
    root_real = os.path.realpath(root)
    if not os.path.isdir(root_real):
        raise CodebaseError("the repository must be an existing directory")
    # (directory relative label, its .gitignore spec) from the root down to the current dir.
    stack: list[tuple[str, list[tuple[str, object]]]] = [("", [])]
    while stack:
        rel_dir, specs = stack.pop()
        abs_dir = os.path.join(root_real, rel_dir) if rel_dir else root_real
        if options.respect_gitignore:
            spec = _gitignore_spec(abs_dir)
            if spec is not None:
                specs = [*specs, (rel_dir, spec)]
        try:
            entries = sorted(os.scandir(abs_dir), key=lambda e: e.name)
        except OSError as exc:
            log.warning("skipped a directory the index cannot list (%s)", exc.strerror)
            continue
        subdirs = []
        for entry in entries:
            label = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            try:
                is_link = entry.is_symlink()
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if is_dir:
                if options.skip_default_dirs and entry.name in SKIPPED_DIRS:
                    continue
                if not _ignored(label + "/", specs):
                    subdirs.append(label)
                continue
            if _ignored(label, specs) or (options.skip_default_dirs and is_generated(label)):
                continue
            if is_link and not within(root_real, entry.path):
                continue
            try:
                st = os.stat(entry.path)  # follows a file link already checked to stay inside
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode) or st.st_size > options.max_file_bytes:
                continue
            yield Found(label, st.st_size, st.st_mtime_ns)
        stack.extend((d, specs) for d in reversed(subdirs))


def _ignored(label: str, specs: list[tuple[str, object]]) -> bool:
    """Git semantics: a later (deeper) .gitignore overrides an earlier one for its subtree."""
    ignored = False
    for base, spec in specs:
        rel = label[len(base) + 1 :] if base else label
        include = spec.check_file(rel).include  # type: ignore[attr-defined]
        if include is not None:  # None: no rule of this file speaks about the path
            ignored = include
    return ignored
