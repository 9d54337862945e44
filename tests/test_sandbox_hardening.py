"""Second-pass hardening that is not an attack payload: inherited hard rlimits, the CI rule
that a sandbox which cannot start fails the suite, host-side request checks, and the
seccomp program's new argument filters."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from env_support import require_sandbox
from rlm.environments.sandbox import lockdown, wire
from rlm.environments.sandbox.callcheck import MAX_BATCH, BadRequest, check_request
from test_sandbox_lockdown import _launcher

SRC = str(Path(__file__).resolve().parents[1] / "src")
TESTS = str(Path(__file__).resolve().parent)


def _python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PYTHONPATH": f"{SRC}:{TESTS}", **(env or {})}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env=full, timeout=120)  # fmt: skip


def test_sandbox_runs_under_lower_inherited_hard_limits():
    """`ulimit -v 16G`, `prlimit --cpu=...`, a low open-files cap: clamp, do not refuse."""
    require_sandbox()
    out = _python(
        """
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (16 * 2**30, 16 * 2**30))
        resource.setrlimit(resource.RLIMIT_CPU, (500, 500))
        resource.setrlimit(resource.RLIMIT_NOFILE, (200, 200))
        from env_support import make_env
        env = make_env("sandbox", memory_limit=32 * 2**30, cpu_limit=3600)
        print(env.execute_code("print(6 * 7)").stdout.strip())
        print(sorted(env.lockdown_report["rlimits"]["clamped"]))
        env.close()
        """
    )
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.split("\n")
    assert lines[0] == "42"
    assert lines[1] == "['cpu', 'memory', 'open_files']"


def test_required_sandbox_fails_instead_of_skipping(tmp_path):
    """Under RLM_REQUIRE_SANDBOX=1 a machine where the sandbox cannot start shows red. The
    machine is made for real: pytest runs under a seccomp filter that hides Landlock, as a
    kernel without it would."""
    probe = tmp_path / "test_probe.py"
    probe.write_text("from env_support import make_env\n\n"
                     "def test_needs_it():\n    make_env('sandbox').close()\n")  # fmt: skip
    old_kernel = _launcher(tmp_path, [444, 445, 446])  # landlock_* return ENOSYS
    args = [old_kernel, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(probe)]
    runs = {}
    for required in ("1", "0"):
        env = {**os.environ, "PYTHONPATH": f"{SRC}:{TESTS}", "RLM_REQUIRE_SANDBOX": required}
        runs[required] = subprocess.run(args, capture_output=True, text=True, env=env,
                                        cwd=tmp_path, timeout=120)  # fmt: skip
    assert runs["1"].returncode == 1 and "1 failed" in runs["1"].stdout, runs["1"].stdout
    assert "landlock" in runs["1"].stdout
    assert runs["0"].returncode == 0 and "1 skipped" in runs["0"].stdout, runs["0"].stdout


def test_call_frames_have_a_smaller_budget_than_results():
    assert wire.CALL_MAX_BYTES < wire.DEFAULT_MAX_MESSAGE
    big = b'{"op":"call","payload":"' + b"a" * (wire.CALL_MAX_BYTES + 1) + b'"}'
    with pytest.raises(wire.WireError, match="exceeds"):
        wire.check_call(big)
    with pytest.raises(wire.WireError, match="nested values"):
        wire.check_shape(b"[" + b"[]," * 200 + b"[]]", 100, 10**6)
    wire.check_shape(b'{"a": "[[[[ inside a string counts too, conservatively ]]]]"}', 10, 10)


@pytest.mark.parametrize(
    ("name", "payload", "message"),
    [
        ("llm_query", {"prompt": [[]] * 3}, "chat message"),
        ("llm_query", {"prompt": "x", "evil": 1}, "unexpected arguments"),
        ("llm_query", {"prompt": "x", "model": "m" * 1000}, "model must be"),
        ("llm_query_batched", {"prompts": ["q"] * (MAX_BATCH + 1)}, "split it"),
        ("llm_query_batched", {"prompts": "not a list"}, "must be a list"),
        ("tool", {"name": "t", "args": [[[[]]]] * 1, "kwargs": {"k": [[[[[[]]]]]] * 20}}, None),
        ("shutdown_host", {}, "unknown host call"),
    ],
)
def test_callback_requests_are_checked_before_the_broker(name, payload, message):
    if message is None:
        check_request(name, payload)  # shallow enough: accepted
        return
    with pytest.raises(BadRequest, match=message):
        check_request(name, payload)


def test_deep_tool_arguments_are_refused():
    deep: list = []
    for _ in range(100):
        deep = [deep]
    with pytest.raises(BadRequest, match="nested deeper"):
        check_request("tool", {"name": "t", "args": [deep], "kwargs": {}})


def test_seccomp_filters_fcntl_and_ioctl_by_argument():
    """The program compares fcntl's cmd and F_SETFL's flags, and ioctl's request."""
    prog = lockdown.build_seccomp_program(1234)
    compared = [k for code, _jt, _jf, k in prog if code == lockdown._JEQ]
    for cmd in lockdown.FCNTL_DENIED + lockdown.IOCTL_DENIED:
        assert cmd in compared
    assert (lockdown._JSET, 0, 1, lockdown.O_ASYNC) in prog
    for name in ("fchmodat2", "setxattrat", "fchownat", "utimensat", "inotify_init1"):
        assert lockdown.NR[name] in compared


def test_namespace_failures_fall_back_then_fail_closed(tmp_path):
    """bwrap installed but refused namespaces (a container): the built-in launcher takes
    over. Both refused (a seccomp filter hides unshare(2) from the whole host process): the
    environment fails closed, naming the opt-in."""
    require_sandbox()
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: Creating new namespace failed: "
                    "Operation not permitted' >&2\nexit 1\n")  # fmt: skip
    fake.chmod(0o755)
    code = """
        from env_support import EchoHost
        from rlm.environments import get_environment
        try:
            env = get_environment("sandbox", host=EchoHost())
        except Exception as exc:
            print(type(exc).__name__, exc)
        else:
            print("started", env.lockdown_report["namespaces"])
            env.close()
        """
    path = {"PATH": f"{bindir}:{os.environ.get('PATH', '')}"}
    assert _python(code, path).stdout.strip() == "started unshare"
    old_kernel = _launcher(tmp_path, [lockdown.NR["unshare"]])
    out = subprocess.run([old_kernel, "-c", textwrap.dedent(code)], capture_output=True,
                         text=True, timeout=120,
                         env={**os.environ, **path, "PYTHONPATH": f"{SRC}:{TESTS}"})  # fmt: skip
    assert out.stdout.startswith("SandboxUnavailableError"), out.stdout + out.stderr[-1000:]
    assert '"allow_degraded": ["namespaces"]' in out.stdout
    assert "Creating new namespace failed" in out.stdout and "unshare" in out.stdout
