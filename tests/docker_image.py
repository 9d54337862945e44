"""A local Docker image with Python for the `docker` environment's tests.

No image registry is reachable from CI, so the image is made here: `docker import` of a tiny
root filesystem holding Debian's python3 (its stdlib and the shared libraries it links),
built once per daemon and tagged `rlm-test-python:<version>`.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

PYTHON = Path("/usr/bin/python3")


def _libraries(paths: list[Path]) -> set[Path]:
    """The shared libraries (and the loader) that `paths` link, resolved on this system."""
    libs: set[Path] = set()
    for path in paths:
        out = subprocess.run(["ldd", str(path)], capture_output=True, text=True).stdout
        for line in out.splitlines():
            parts = line.split()
            for part in parts:
                if part.startswith("/") and Path(part).exists():
                    libs.add(Path(part))
    return libs


def _rootfs() -> bytes:
    python = PYTHON.resolve()
    version = f"python{python.name.removeprefix('python')}"
    stdlib = Path("/usr/lib") / version
    binaries = [python, *stdlib.glob("lib-dynload/*.so")]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        libs = _libraries(binaries)
        # Every parent directory explicitly world-readable: the container runs as nobody.
        parents = {"tmp", "proc", "dev", "usr/bin"}
        for path in [stdlib, *libs]:
            parents.update(str(p).lstrip("/") for p in path.parents if str(p) != "/")
        for directory in sorted(parents):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if directory == "tmp" else 0o755
            tar.addfile(info)
        tar.add(python, arcname=f"usr/bin/{python.name}")
        link = tarfile.TarInfo("usr/bin/python3")
        link.type, link.linkname = tarfile.SYMTYPE, python.name
        tar.addfile(link)
        tar.add(stdlib, arcname=str(stdlib).lstrip("/"),
                filter=lambda t: None if "__pycache__" in t.name or "/test/" in t.name else t)  # fmt: skip
        for lib in libs:
            tar.add(lib.resolve(), arcname=str(lib).lstrip("/"))
    return buf.getvalue()


def ensure_image(docker: str = "docker") -> str | None:
    """The tag of a local image with python3 (built if missing), or None without one."""
    if not PYTHON.exists() or sys.platform != "linux":
        return None
    tag = "rlm-test-python:" + PYTHON.resolve().name.removeprefix("python") + "-2"
    have = subprocess.run([docker, "image", "inspect", tag], capture_output=True)
    if have.returncode == 0:
        return tag
    made = subprocess.run([docker, "import", "--change", "ENV PATH=/usr/bin:/bin", "-", tag], input=_rootfs(), capture_output=True,
                          env=os.environ, timeout=300)  # fmt: skip
    return tag if made.returncode == 0 else None
