"""The on-disk index of one repository, updated incrementally by content hash.

A file whose size and mtime are unchanged is trusted as is; one whose stat changed is re-read
and hashed, and only when its SHA-256 changed is it parsed again. The cache is one JSON file
per repository (never pickle: a cache file is data, not code), written atomically.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlm.codebase.languages import language_of, looks_binary
from rlm.codebase.symbols import extract_symbols
from rlm.codebase.walk import WalkOptions, walk

log = logging.getLogger("rlm.codebase")

CACHE_VERSION = 1


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rlm" / "codebase"


@dataclass
class UpdateStats:
    added: int = 0
    changed: int = 0  # content hash changed: symbols parsed again
    touched: int = 0  # stat changed, content the same: nothing re-parsed
    removed: int = 0
    unchanged: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Index:
    """`files`: label -> {"sha256", "size", "mtime_ns", "language", "lines", "symbols"}."""

    root: str  # the repository's real path; never shown to models or clients
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    options: WalkOptions = field(default_factory=WalkOptions)
    cache_path: Path | None = None

    @classmethod
    def open(
        cls,
        root: str | os.PathLike[str],
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        use_cache: bool = True,
        options: WalkOptions | None = None,
    ) -> Index:
        """Load the cached index of `root` (if any) and bring it up to date."""
        real = os.path.realpath(root)
        cache_path = None
        if use_cache:
            directory = Path(cache_dir) if cache_dir is not None else default_cache_dir()
            cache_path = directory / (hashlib.sha256(real.encode()).hexdigest()[:24] + ".json")
        index = cls(real, options=options or WalkOptions(), cache_path=cache_path)
        index._load()
        index.update()
        return index

    def update(self) -> UpdateStats:
        """Walk the tree again; re-read only files whose stat changed. Saves the cache."""
        started = time.perf_counter()
        stats = UpdateStats()
        seen: dict[str, dict[str, Any]] = {}
        for found in walk(self.root, self.options):
            old = self.files.get(found.label)
            if old and old["size"] == found.size and old["mtime_ns"] == found.mtime_ns:
                seen[found.label] = old
                stats.unchanged += 1
                continue
            entry = self._read(found.label, found.size, found.mtime_ns, old)
            if entry is None:
                continue
            if old is None:
                stats.added += 1
            elif entry is old:
                stats.touched += 1
            else:
                stats.changed += 1
            seen[found.label] = entry
        stats.removed = len(set(self.files) - set(seen))
        self.files = seen
        stats.seconds = time.perf_counter() - started
        if stats.added or stats.changed or stats.touched or stats.removed:
            self._save()
        return stats

    def _read(
        self, label: str, size: int, mtime_ns: int, old: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        path = os.path.join(self.root, label)
        try:
            with open(path, "rb") as fh:
                data = fh.read(self.options.max_file_bytes + 1)
        except OSError as exc:
            log.warning("skipped %s: %s", label, exc.strerror)
            return None
        if looks_binary(data):
            return None
        digest = hashlib.sha256(data).hexdigest()
        if old is not None and old["sha256"] == digest:
            old["mtime_ns"], old["size"] = mtime_ns, size
            return old
        language = language_of(label)
        return {
            "sha256": digest,
            "size": len(data),
            "mtime_ns": mtime_ns,
            "language": language,
            "lines": data.count(b"\n") + (0 if not data or data.endswith(b"\n") else 1),
            "symbols": extract_symbols(language, data),
        }

    # -- cache ---------------------------------------------------------------------------------
    def _load(self) -> None:
        if self.cache_path is None or not self.cache_path.exists():
            return
        try:
            data = json.loads(self.cache_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("ignored an unreadable index cache (%s); rebuilding", exc)
            return
        if data.get("version") == CACHE_VERSION and data.get("root") == self.root:
            self.files = data.get("files", {})

    def _save(self) -> None:
        if self.cache_path is None:
            return
        payload = {"version": CACHE_VERSION, "root": self.root, "files": self.files}
        try:
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.cache_path.parent, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(payload, fh, separators=(",", ":"))
            os.replace(tmp, self.cache_path)
        except OSError as exc:
            log.warning("could not write the index cache (%s); it is rebuilt next time", exc)
