"""Mount, pid, network, IPC and UTS namespaces for the worker, through bubblewrap.

In its own mount namespace the worker sees only what it needs: the interpreter's
installation and the system's shared libraries (read-only), its private temp dir
(read-write), a fresh /proc of its own pid namespace and a minimal /dev. Host files outside
those do not exist for it at all, so `stat`, `os.listdir('/proc')` or an inotify watch on a
host directory have nothing to report. Namespaces cost once, when a worker starts (bwrap adds
a few milliseconds), never per cell.
"""

from __future__ import annotations

import contextlib
import time


def bwrap_prefix(bwrap: str, tmpdir: str, read_only: list[str]) -> list[str]:
    """The `bwrap ...` command line that runs the worker inside new namespaces."""
    argv = [
        bwrap,
        "--unshare-all",  # user (when possible), ipc, pid, net, uts, cgroup
        "--die-with-parent",
        "--new-session",  # no controlling terminal: no TIOCSTI into the user's shell
        "--proc", "/proc",
        "--dev", "/dev",
        "--bind", tmpdir, tmpdir,
        "--chdir", tmpdir,
    ]  # fmt: skip
    for path in read_only:
        argv += ["--ro-bind", path, path]
    return argv


def innermost_pid(pid: int) -> int:
    """The deepest descendant of `pid` along a single-child chain (bwrap -> its pid-1 init ->
    the worker interpreter); `pid` itself when it has no children."""
    for _ in range(8):
        children: list[str] = []
        with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{pid}/children") as fh:
            children = fh.read().split()
        if len(children) != 1:
            return pid
        pid = int(children[0])
    return pid


def wait_gone(pid: int, timeout: float) -> bool:
    """Wait until `pid` has exited (gone or a zombie): it is not our child, so no waitpid."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                    return True
        except (OSError, IndexError):
            return True
        time.sleep(0.005)
    return False
