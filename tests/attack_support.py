"""The host-side world the attack suites aim at, and one detector per harm.

A `World` is a directory of host files (metadata recorded), a sacrificial host process, a
secret token in file and directory names, signal counters on the host process, and real
system files the worker can name (the interpreter, the stdlib) whose metadata must not
change either. `Detectors.check` runs every detector after a payload:

- host file metadata unchanged (mode, owner, times incl. ctime, xattrs) on host and system
  files;
- nothing outside listed: no host token, host file size/mtime marker, host pid or inotify
  event in anything the worker returned;
- host alive and within budget: the sacrificial process lives, no signal reached the host,
  the env answers the next cell;
- host RSS bounded: the host's peak RSS (VmHWM, reset before each payload) grew by less
  than `RSS_BUDGET`;
- every output cap held on what the host returned.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RSS_BUDGET = 400 * 1024 * 1024  # bytes of host peak-RSS growth one payload may cause
SECRET_SIZE = 7919  # the host victim file's size: a learned size would show this number
SECRET_MTIME = 1_111_111_111  # ... and its mtime
WATCHED_SIGNALS = (signal.SIGIO, signal.SIGURG, signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH)


def _meta(path: str) -> tuple[Any, ...]:
    st = os.lstat(path)
    try:
        xattrs = tuple(sorted(os.listxattr(path, follow_symlinks=False)))
    except OSError:
        xattrs = ()
    return (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns, st.st_ctime_ns, xattrs)


def _peak_rss() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def reset_peak_rss() -> int:
    """Reset the kernel's peak-RSS mark for this process; returns the current RSS."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass
    return _peak_rss()


@dataclass
class World:
    root: Path
    token: str
    victim: str
    victim_dir: str
    victim_exec: str
    system_files: list[str]
    host_pid: int
    sleeper: subprocess.Popen[bytes]
    signals: dict[int, int] = field(default_factory=dict)
    snapshot: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    _old_handlers: dict[int, Any] = field(default_factory=dict)

    @property
    def watched(self) -> list[str]:
        return [self.victim, self.victim_dir, self.victim_exec, *self.system_files]

    def vars(self) -> dict[str, Any]:
        return {
            "victim": self.victim,
            "victim_dir": self.victim_dir,
            "victim_exec": self.victim_exec,
            "sysfile": self.system_files[0],
            "stdlib_file": self.system_files[1],
            "host_pid": self.host_pid,
            "sleeper": self.sleeper.pid,
        }

    def take_snapshot(self) -> None:
        self.snapshot = {p: _meta(p) for p in self.watched}

    def close(self) -> None:
        self.sleeper.kill()
        self.sleeper.wait()
        for sig, handler in self._old_handlers.items():
            signal.signal(sig, handler)


def make_world(root: Path) -> World:
    token = "HOSTONLY" + secrets.token_hex(4)
    victim_dir = root / token
    victim_dir.mkdir()
    victim = victim_dir / f"{token}-victim.txt"
    victim.write_bytes(b"v" * SECRET_SIZE)
    victim.chmod(0o644)
    os.utime(victim, (SECRET_MTIME, SECRET_MTIME))
    victim_exec = victim_dir / f"{token}-tool"
    victim_exec.write_text("#!/bin/sh\necho hi\n")
    victim_exec.chmod(0o755)
    system_files = [os.path.realpath(sys.executable), os.path.realpath(os.__file__)]
    world = World(
        root=root,
        token=token,
        victim=str(victim),
        victim_dir=str(victim_dir),
        victim_exec=str(victim_exec),
        system_files=system_files,
        host_pid=os.getpid(),
        sleeper=subprocess.Popen(["sleep", "600"], start_new_session=True),
    )
    for sig in WATCHED_SIGNALS:
        world.signals[sig] = 0

        def count(signum: int, _frame: Any) -> None:
            world.signals[signum] += 1

        world._old_handlers[sig] = signal.signal(sig, count)
    world.take_snapshot()
    return world


class Detectors:
    """Every harm's detector, run after each payload."""

    def __init__(self, world: World):
        self.world = world

    def before(self) -> int:
        return reset_peak_rss()

    def check(self, name: str, text: str, rss_before: int) -> None:
        w = self.world
        changed = {p: (w.snapshot[p], _meta(p)) for p in w.watched if _meta(p) != w.snapshot[p]}
        assert not changed, f"{name}: host file metadata changed: {changed}"
        for needle in (w.token, f"SIZE:{SECRET_SIZE}", f"MTIME:{SECRET_MTIME}",
                       f"PID:{w.host_pid}", f"PID:{w.sleeper.pid}", "EVENT:"):  # fmt: skip
            assert needle not in text, f"{name}: learned {needle!r} about the host"
        assert w.sleeper.poll() is None, f"{name}: killed a host process"
        assert not any(w.signals.values()), f"{name}: signalled the host: {w.signals}"
        grew = _peak_rss() - rss_before
        assert grew < RSS_BUDGET, f"{name}: host peak RSS grew by {grew / 2**20:.0f} MiB"


def everything(result: Any) -> str:
    return f"{result.stdout}\n{result.stderr}\n{result.final_answer}\n{result.locals}"


def assert_caps(result: Any, output_chars: int) -> None:
    """What the host returned respects every documented cap, whatever the worker sent."""
    assert len(result.stdout) <= output_chars
    assert len(result.stderr) <= output_chars + 2_000  # plus the host's own notes
    assert result.final_answer is None or len(result.final_answer) <= 4_000_000
    assert len(result.locals) <= 1_001
    assert all(len(k) <= 100 and len(v) <= 200 for k, v in result.locals.items())
    assert 0 <= result.truncated_chars < 10**16
    assert result.execution_time >= 0 and result.execution_time == result.execution_time
