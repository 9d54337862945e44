"""`monty`: pyrlm-runtime's secure REPL backend keeps its limits and its isolation, and the
session comes back after a limit trips."""

from __future__ import annotations

import pytest

from env_support import make_env

pytest.importorskip("pydantic_monty")


def test_a_runaway_cell_is_stopped_by_the_time_limit_and_the_session_comes_back():
    env = make_env("monty", cell_timeout=0.5)
    try:
        env.load_context("still here")
        env.execute_code("x = 1")
        result = env.execute_code("while True:\n    pass")
        assert "TimeoutError" in result.stderr and result.state_lost
        after = env.execute_code(
            "print(context)\ntry:\n    x\nexcept NameError:\n    print('x gone')"
        )
        assert after.stdout.splitlines() == ["still here", "x gone"]
    finally:
        env.close()


def test_model_code_cannot_read_files_or_exhaust_memory():
    env = make_env("monty", memory_limit=64 * 1024 * 1024)
    try:
        denied = env.execute_code("open('/etc/passwd').read()")
        assert "PermissionError" in denied.stderr
        listed = env.execute_code("import os\nos.listdir('/')")
        assert "PermissionError" in listed.stderr
        bomb = env.execute_code("blob = 'x' * (512 * 1024 * 1024)")
        assert "MemoryError" in bomb.stderr
        assert env.execute_code("print(1 + 1)").stdout == "2\n"
    finally:
        env.close()
