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
import os
import shutil
import sys
import time
from typing import Any

from rlm.errors import ConfigurationError, SandboxUnavailableError


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


# Without bubblewrap: the same namespaces set up by a tiny launcher run by the host's
# interpreter (`python -I -c UNSHARE_LAUNCHER spec python -I -B -c BOOTSTRAP ...`). It
# unshares (a user namespace too when not root), forks the pid namespace's first process,
# builds a tmpfs root holding only the read-only binds, the temp dir, /proc and a few /dev
# nodes, pivots into it and execs the worker. Any failure prints one "rlm namespaces:" line
# and exits 71: the host turns that into a fail-closed error naming the opt-in.
UNSHARE_MARK = "rlm namespaces:"
UNSHARE_LAUNCHER = r"""
import ctypes, json, os, sys
spec, argv = json.loads(sys.argv[1]), sys.argv[2:]
libc = ctypes.CDLL(None, use_errno=True)
def check(rc, what):
    if rc != 0:
        sys.stderr.write("rlm namespaces: %s: %s\n" % (what, os.strerror(ctypes.get_errno())))
        sys.stderr.flush()
        os._exit(71)
uid, gid = os.getuid(), os.getgid()
flags = 0x20000 | 0x20000000 | 0x40000000 | 0x8000000 | 0x4000000  # NS PID NET IPC UTS
if uid != 0:
    flags |= 0x10000000  # USER: an unprivileged host maps itself
check(libc.unshare(flags), "unshare(mount, pid, net, ipc, uts)")
if uid != 0:
    for name, text in (("setgroups", "deny"), ("uid_map", "%d %d 1" % (uid, uid)),
                       ("gid_map", "%d %d 1" % (gid, gid))):
        with open("/proc/self/" + name, "w") as fh:
            fh.write(text)
child = os.fork()
if child:
    libc.prctl(1, 9, 0, 0, 0)
    _, status = os.waitpid(child, 0)
    os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
libc.prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG: die with the launcher
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
KEEP = {2: MS_NOSUID, 4: MS_NODEV, 8: MS_NOEXEC, 1024: 1024, 2048: 2048, 4096: 1 << 21}
check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
root = spec["root"]
check(libc.mount(b"tmpfs", root.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, b"mode=0755"), "tmpfs root")
def bind(src, read_only, recursive=True):
    dst = root + src
    if os.path.isdir(src):
        os.makedirs(dst, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        open(dst, "a").close()
    check(libc.mount(src.encode(), dst.encode(), None, MS_BIND | (MS_REC if recursive else 0), None), "bind " + src)
    if read_only:
        kept = sum(v for k, v in KEEP.items() if os.statvfs(src).f_flag & k)
        check(libc.mount(None, dst.encode(), None, MS_BIND | MS_REMOUNT | MS_RDONLY | kept, None), "read-only " + src)
for path in spec["read_only"]:
    bind(path, True)
bind(spec["tmpdir"], False, recursive=False)  # not recursive: the root tmpfs lives inside it
for node in ("/dev/null", "/dev/zero", "/dev/random", "/dev/urandom"):
    bind(node, False)
os.makedirs(root + "/proc")
check(libc.mount(b"proc", (root + "/proc").encode(), b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None), "mount /proc")
os.makedirs(root + "/.old")
libc.syscall.restype = ctypes.c_long
check(libc.syscall(spec["nr_pivot_root"], root.encode(), (root + "/.old").encode()), "pivot_root")
os.chdir("/")
check(libc.umount2(b"/.old", 2), "detach the old root")
os.rmdir("/.old")
os.chdir(spec["tmpdir"])
os.execv(argv[0], argv)
"""


def unshare_prefix(python: str, tmpdir: str, read_only: list[str]) -> list[str]:
    """The launcher command line that runs the worker inside new namespaces without bwrap."""
    import json
    import platform

    nr_pivot_root = {"x86_64": 155, "aarch64": 41}.get(platform.machine())
    if nr_pivot_root is None:
        raise OSError(f"no pivot_root number for {platform.machine()}")
    root = os.path.join(tmpdir, ".root")
    os.makedirs(root, exist_ok=True)
    spec = {"root": root, "tmpdir": tmpdir, "read_only": read_only,
            "nr_pivot_root": nr_pivot_root}  # fmt: skip
    return [python, "-I", "-c", UNSHARE_LAUNCHER, json.dumps(spec)]


MODES = ("auto", "bwrap", "unshare", "off")


class NamespacePlan:
    """How this environment puts its workers in namespaces, and what happened when it did.

    mode "auto": bwrap when installed, else the built-in launcher; "bwrap" or "unshare":
    only that; "off": none (only with `allow_degraded=["namespaces"]`). When the launcher
    cannot create namespaces here, the environment fails closed unless degraded is allowed."""

    def __init__(self, mode: str, degraded_ok: bool):
        if mode not in MODES:
            raise ConfigurationError(f"namespaces={mode!r}: choose from {list(MODES)}")
        if mode == "off" and not degraded_ok:
            raise ConfigurationError(
                'namespaces="off" (or bubblewrap=False) runs the worker without mount and pid '
                'namespaces: also pass allow_degraded=["namespaces"] to confirm that'
            )
        self.mode = mode
        self.degraded_ok = degraded_ok
        self.used = ""  # "bwrap", "unshare" or "" (none)
        self.degraded = "turned off" if mode == "off" else ""
        self.bwrap_failure = ""

    def wrap(self, argv: list[str], tmpdir: str, read_only: list[str]) -> list[str]:
        if self.mode == "off" or self.degraded:
            return argv
        bwrap = shutil.which("bwrap") if self.mode in ("auto", "bwrap") else None
        if bwrap is not None:
            self.used = "bwrap"
            return [*bwrap_prefix(bwrap, tmpdir, read_only), *argv]
        if self.mode == "bwrap":
            raise SandboxUnavailableError(
                "namespaces through bubblewrap were asked for, but `bwrap` is not installed "
                "(Debian/Ubuntu: apt-get install bubblewrap). Leave the default "
                '(namespaces="auto") to let the sandbox set them up itself.'
            )
        self.used = "unshare"
        return [*unshare_prefix(sys.executable, tmpdir, read_only), *argv]

    def applies_to(self, reason: str) -> bool:
        """Whether a worker's start failure was the namespace set-up failing."""
        return UNSHARE_MARK in reason or (self.used == "bwrap" and "bwrap:" in reason)

    def failed(self, reason: str) -> bool:
        """Setting up the namespaces failed. True: try again (bwrap failed in "auto" mode:
        the built-in launcher is next; or degraded is allowed: none). Otherwise raise the
        fail-closed error naming the missing piece and the opt-in."""
        mark = UNSHARE_MARK if UNSHARE_MARK in reason else "bwrap:"
        detail = reason[reason.index(mark) :].splitlines()[0][:300]
        if self.used == "bwrap" and self.mode == "auto":
            self.mode = "unshare"  # e.g. bwrap installed but not allowed namespaces here
            self.bwrap_failure = detail
            return True
        if self.degraded_ok:
            self.degraded, self.used = detail, ""
            return True
        tried = f"{self.bwrap_failure}; then " if self.bwrap_failure else ""
        raise SandboxUnavailableError(
            "The sandbox runs its worker in its own mount and pid namespaces (so host files "
            f"and processes do not exist for it), and could not create them here ({tried}"
            f"{detail}): this kernel or container does not let the host create namespaces "
            "(user namespaces disabled?). Install bubblewrap where it can work "
            "(Debian/Ubuntu: apt-get install bubblewrap), or opt in to running without "
            'namespaces: environment_kwargs={"allow_degraded": ["namespaces"]}; or use '
            "environment='docker'."
        )

    def add_to(self, report: dict[str, Any]) -> None:
        if self.degraded:
            report["degraded"] = {**report.get("degraded", {}), "namespaces": self.degraded}
        else:
            report["namespaces"] = self.used
