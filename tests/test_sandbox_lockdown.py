"""The kernel lockdown: what is on, and failing closed where the kernel lacks a layer.

"A kernel without Landlock/seccomp" is produced for real: the worker's interpreter is started
under a parent seccomp filter that makes those syscalls return ENOSYS, as an old kernel would.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import textwrap

import pytest

from env_support import make_env
from rlm.environments.sandbox import lockdown
from rlm.errors import SandboxUnavailableError


def test_every_layer_is_on_by_default():
    env = make_env("sandbox")
    try:
        report = env.lockdown_report
        assert report["degraded"] == {}
        assert report["rlimits"] and report["capabilities"]
        assert report["landlock"] >= 1
        assert report["seccomp"] > 100  # instructions in the filter
    finally:
        env.close()


def test_worker_status_shows_seccomp_and_no_new_privs():
    env = make_env("sandbox")
    try:
        # The worker can read its own status only through an open fd: Landlock hides /proc.
        with open(f"/proc/{env.worker_pid}/status") as fh:
            status = fh.read()
        assert "NoNewPrivs:\t1" in status
        assert "Seccomp:\t2" in status
        assert "CapEff:\t0000000000000000" in status
        if os.geteuid() == 0:  # only a privileged host can (and must) empty the bounding set
            assert "CapBnd:\t0000000000000000" in status
    finally:
        env.close()


# The old-kernel launcher is a shell script in pytest's temp dir, which the worker's mount
# namespace (rightly) does not contain: these tests run without namespaces.
NO_NS = "namespaces"


@pytest.fixture
def no_bwrap(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")


def _launcher(tmp_path, hidden_syscalls: list[int]) -> str:
    """An interpreter wrapper that runs python under a filter hiding `hidden_syscalls`."""
    script = tmp_path / "old_kernel_python.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import ctypes, os, sys, importlib.util
            spec = importlib.util.spec_from_file_location("lockdown", {lockdown.__file__!r})
            L = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(L)
            prog = [(L._LD_W_ABS, 0, 0, L._OFF_NR)]
            for nr in {hidden_syscalls!r}:
                prog += [(L._JEQ, 0, 1, nr), (L._RET, 0, 0, L._RET_ERRNO | 38)]  # ENOSYS
            prog.append((L._RET, 0, 0, L._RET_ALLOW))
            arr = (L._SockFilter * len(prog))(*[L._SockFilter(*i) for i in prog])
            fprog = L._SockFprog(len(prog), arr)
            assert L._libc.prctl(L.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
            assert L._libc.syscall(L.NR["seccomp"], 1, 0, ctypes.byref(fprog)) == 0
            os.execv({sys.executable!r}, [{sys.executable!r}, *sys.argv[1:]])
            """
        )
    )
    wrapper = tmp_path / "python"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} -I {script} "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return str(wrapper)


def test_missing_landlock_fails_closed_and_names_the_opt_in(tmp_path):
    python = _launcher(tmp_path, [444, 445, 446])
    with pytest.raises(SandboxUnavailableError) as info:
        make_env("sandbox", python=python, namespaces="off", allow_degraded=[NO_NS])
    assert "landlock" in str(info.value)
    assert '"allow_degraded": ["landlock"]' in str(info.value)
    env = make_env("sandbox", python=python, namespaces="off", allow_degraded=["landlock", NO_NS])
    try:
        assert "landlock" in env.lockdown_report["degraded"]
        # seccomp still holds: no exec
        assert (
            "PermissionError" in env.execute_code("import os; os.execv('/bin/true', ['x'])").stderr
        )
    finally:
        env.close()


def test_missing_seccomp_fails_closed_and_names_the_opt_in(tmp_path):
    python = _launcher(tmp_path, [lockdown.NR["seccomp"]])  # seccomp(2) itself
    with pytest.raises(SandboxUnavailableError, match='"allow_degraded": \\["seccomp"\\]'):
        make_env("sandbox", python=python, namespaces="off", allow_degraded=[NO_NS])


def _bwrap_skip_reason() -> str | None:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap not installed (apt-get install bubblewrap)"
    probe = subprocess.run(
        [bwrap, "--unshare-all", "--ro-bind", "/", "/", "true"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        return f"bwrap cannot create namespaces here: {probe.stderr.strip()[:200]}"
    return None


def test_bubblewrap_wrapper_runs_the_same_worker():
    if (why := _bwrap_skip_reason()) is not None:
        pytest.skip(why)
    env = make_env("sandbox", bubblewrap=True)
    try:
        env.load_context("wrapped")
        result = env.execute_code("import os\nprint(context, os.getpid())")
        text, pid = result.stdout.split()
        assert text == "wrapped"
        assert int(pid) != env.worker_pid  # its own pid namespace
        assert env.lockdown_report["namespaces"] == "bwrap"
    finally:
        env.close()


def test_bubblewrap_missing_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SandboxUnavailableError, match="apt-get install bubblewrap"):
        make_env("sandbox", bubblewrap=True)


def test_seccomp_program_shape():
    prog = lockdown.build_seccomp_program(1234)
    assert prog[0] == (lockdown._LD_W_ABS, 0, 0, lockdown._OFF_ARCH)
    assert prog[-1] == (lockdown._RET, 0, 0, lockdown._RET_ALLOW)
    assert len(prog) < 4096
    for code, jt, jf, _k in prog:
        assert jt < 256 and jf < 256
        assert code in (
            lockdown._LD_W_ABS,
            lockdown._JEQ,
            lockdown._JGE,
            lockdown._JSET,
            lockdown._RET,
        )


@pytest.mark.parametrize(
    ("table", "header", "pattern"),
    [
        (
            "NR_X86_64",
            "/usr/include/x86_64-linux-gnu/asm/unistd_64.h",
            r"#define __NR_(\w+)\s+(\d+)",
        ),
        ("NR_AARCH64", "/usr/include/asm-generic/unistd.h", r"#define __NR(?:3264)?_(\w+)\s+(\d+)"),
    ],
)
def test_syscall_tables_match_the_kernel_headers(table, header, pattern):
    """A wrong number would deny the wrong syscall or miss a dangerous one."""
    import re

    if not os.path.exists(header):
        pytest.skip(f"{header} missing (Debian package linux-libc-dev)")
    with open(header) as fh:
        text = fh.read()
    numbers: dict[str, int] = {}
    for m in re.finditer(pattern, text):
        numbers.setdefault(m.group(1), int(m.group(2)))
    ours = getattr(lockdown, table)
    known = {k: v for k, v in ours.items() if k in numbers}
    assert {k: v for k, v in known.items() if numbers[k] != v} == {}
    # Syscalls newer than these headers: numbered in the shared >= 424 range, alike everywhere.
    newer = {k: v for k, v in ours.items() if k not in numbers}
    assert newer == {k: lockdown._NR_UNIFIED[k] for k in newer}
    assert all(v > max(numbers.values()) for v in newer.values())
    for name in ("execve", "clone", "socket", "ptrace", "kill", "seccomp", "clone3"):
        assert name in ours


def test_aarch64_program_uses_its_own_numbers_and_arch():
    prog = lockdown.build_seccomp_program(1234, 0xC00000B7, lockdown.NR_AARCH64)
    assert prog[1] == (lockdown._JEQ, 1, 0, 0xC00000B7)
    compared = {k for code, _jt, _jf, k in prog if code == lockdown._JEQ}
    assert lockdown.NR_AARCH64["execve"] in compared  # 221
    assert lockdown.NR_X86_64["execve"] not in compared  # 59 is an unrelated syscall there


def test_without_bwrap_the_sandbox_makes_its_own_namespaces(no_bwrap):
    env = make_env("sandbox")
    try:
        assert env.lockdown_report["namespaces"] == "unshare"
        assert env.lockdown_report["degraded"] == {}
        out = env.execute_code(
            "import os\nprint(os.getpid(), os.path.exists('/etc/passwd'), "
            "os.path.exists('/proc/%d' % os.getppid() if os.getppid() else '/nonexistent'))"
        )
        assert out.stdout.split() == ["1", "False", "False"], out.stderr
        assert env.worker_pid != 1  # the host sees the real pid
    finally:
        env.close()


def test_namespaces_off_needs_the_explicit_opt_in():
    from rlm.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="allow_degraded"):
        make_env("sandbox", namespaces="off")
