"""The in-process `local` environment: thread safety, by-reference context, name restoring."""

from __future__ import annotations

import os
import sys
import threading

from rlm.environments import LocalREPL, ToolSpec, get_environment


class EchoHost:
    def __init__(self):
        self.calls = []

    def call(self, name, payload):
        self.calls.append((name, payload))
        if name == "llm_query_batched":
            return [f"echo:{p}" for p in payload["prompts"]]
        return f"echo:{payload.get('prompt')}"


def test_context_is_bound_by_reference_not_copied():
    big = "z" * 50_000_000
    env = LocalREPL()
    env.load_context(big)
    assert env.namespace["context"] is big
    assert env.namespace["context_0"] is big


def test_variables_assigned_before_an_exception_survive():
    env = LocalREPL()
    result = env.execute_code("a = 1\nb = 2\nraise RuntimeError('x')\nc = 3")
    assert "RuntimeError: x" in result.stderr
    assert env.execute_code("print(a + b)").stdout == "3\n"
    assert "NameError" in env.execute_code("c").stderr


def test_last_expression_is_echoed_and_final_calls_are_not():
    env = LocalREPL()
    assert env.execute_code("x = 2\nx * 21").stdout == "42\n"
    result = env.execute_code("FINAL('done')")
    assert result.stdout == "" and result.final_answer == "done"


def test_host_callbacks_go_through_the_host_table():
    host = EchoHost()
    env = LocalREPL(host=host)
    out = env.execute_code("print(llm_query('a'), llm_query_batched(['b', 'c']))").stdout
    assert out == "echo:a ['echo:b', 'echo:c']\n"
    assert [name for name, _ in host.calls] == ["llm_query", "llm_query_batched"]


def test_tools_are_host_objects_in_local():
    marker = object()
    env = LocalREPL(tools=[ToolSpec("thing", marker), ToolSpec("double", lambda x: 2 * x)])
    env.execute_code("same = thing\nv = double(4)")
    assert env.namespace["same"] is marker and env.namespace["v"] == 8
    env.execute_code("thing = None")
    assert env.namespace["thing"] is marker  # restored like every reserved name


def test_no_process_wide_stdout_swap_or_chdir_per_cell():
    env = LocalREPL()
    env.execute_code("print('warm-up')")
    before_out, before_cwd = sys.stdout, os.getcwd()
    env.execute_code("print('x')\nimport sys\nsys.stdout = None")
    env.execute_code("print('y')")
    assert os.getcwd() == before_cwd
    # The per-thread router is installed once; model code replacing it gets it back.
    assert type(sys.stdout) is type(before_out)


def test_parallel_repls_capture_their_own_output():
    envs = [LocalREPL() for _ in range(4)]
    results = {}
    barrier = threading.Barrier(4)

    def work(i):
        barrier.wait()
        results[i] = (
            envs[i]
            .execute_code(
                f"import time\nfor _ in range(50):\n    print('{i}', end='')\n    time.sleep(0.001)"
            )
            .stdout
        )

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: str(i) * 50 for i in range(4)}


def test_output_capture_is_bounded():
    env = LocalREPL()
    env._session.capture_limit = 1000
    result = env.execute_code("print('q' * 5000)")
    assert len(result.stdout) == 1000 and result.truncated_chars == 4001


def test_interrupt_stops_a_python_loop_from_another_thread():
    env = LocalREPL()
    timer = threading.Timer(0.2, env.interrupt)
    timer.start()
    result = env.execute_code("n = 0\nwhile True:\n    n += 1")
    assert "Interrupted" in result.stderr
    assert env.namespace["n"] > 0


def test_registry_builds_local_by_name():
    env = get_environment("local")
    assert isinstance(env, LocalREPL)
    env.close()


def test_host_code_sees_the_original_streams_while_cells_are_captured():
    import subprocess

    # A real terminal-less process: the original stdout is a pipe with a real fd.
    code = (
        "import sys\n"
        "from rlm.environments import LocalREPL\n"
        "fd, enc, tty = sys.stdout.fileno(), sys.stdout.encoding, sys.stdout.isatty()\n"
        "env = LocalREPL()\n"
        "r = env.execute_code('import sys\\nprint(sys.stdout.isatty())')\n"
        "assert r.stdout == 'False\\n', r.stdout\n"
        "assert type(sys.stdout).__name__ == '_StreamRouter'\n"
        "assert (sys.stdout.fileno(), sys.stdout.encoding, sys.stdout.isatty()) == (fd, enc, tty)\n"
        "assert sys.stdout.buffer is sys.__stdout__.buffer\n"
        "import faulthandler; faulthandler.enable(); faulthandler.disable()\n"
        "print('ok')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONIOENCODING": "latin-1"},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_an_interrupt_never_escapes_after_its_cell_ended():
    # Interrupts fired at random moments around short cells must land inside a cell (and be
    # reported there) or be dropped; never raise out of execute_code into the caller.
    env = LocalREPL()
    stop = threading.Event()

    def hammer():
        while not stop.is_set():
            env.interrupt()

    thread = threading.Thread(target=hammer)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: hit every window
    thread.start()
    try:
        for i in range(2000):
            result = env.execute_code(f"x = {i}\nfor _ in range(50): pass")
            assert result.stderr in ("", "Interrupted: the cell was stopped by the host\n")
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(interval)
    assert env.execute_code("print('still fine')").stdout == "still fine\n"
