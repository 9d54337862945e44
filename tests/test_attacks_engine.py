"""Round-two attacks through the whole engine on the default environment: records and
terminals (log readable, terminal output clean, `rlm run`'s answer included), run budgets
(`max_timeout` holds against threads left running in C), and hijacking later cells/turns.

The root model is played by the `function` backend: it answers each iteration with the next
scripted code cell. Sub-calls (one user message) are answered "sub:<prompt>".
"""

from __future__ import annotations

import json
import re
import time

import pytest
from click.testing import CliRunner

from cli_support import isolate_cli
from env_support import require_sandbox
from rlm import RLM
from rlm.cli.main import main
from rlm.errors import RLMError
from rlm.logger import RLMLogger
from rlm.viewer.store import read_log

# Anything a terminal would act on: C0 (but tab/newline), DEL, C1, line separators, bidi
# controls, lone surrogates.
UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
ESC = "\x1b"

# (id, code cells run in order; the last one calls FINAL)
RECORDS = [
    ("print-lone-surrogate", ["print('a\\ud800b')", "FINAL('ok')"]),
    ("final-lone-surrogate", ["FINAL('x\\udfffy')"]),
    ("prompt-lone-surrogate", ["r = llm_query('half \\ud83d emoji')", "FINAL(r)"]),
    ("print-markup-close-tag", ["print('[/oops]')", "FINAL('[/oops]')"]),
    ("print-markup-link", ["print('[link=https://evil.example]click[/link]')", "FINAL('ok')"]),
    ("print-markup-style", ["print('[bold red on white]fake error[/]')", "FINAL('[blink]x[/]')"]),
    ("print-u2028", ["print('line1\\u2028line2')", "FINAL('ok')"]),
    ("print-u0085", ["print('nel\\x85here')", "FINAL('a\\x85b')"]),
    ("final-u2029", ["FINAL('para\\u2029graph')"]),
    ("print-osc8-hyperlink", ["print('\\x1b]8;;https://evil\\x1b\\\\click\\x1b]8;;\\x1b\\\\')", "FINAL('ok')"]),
    ("print-csi-clear-screen", ["print('\\x1b[2J\\x1b[H')", "FINAL('ok')"]),
    ("print-osc52-clipboard", ["print('\\x1b]52;c;ZWNobyBwd25lZA==\\x07')", "FINAL('ok')"]),
    ("final-window-title", ["FINAL('\\x1b]0;pwned\\x07answer')"]),
    ("print-carriage-return-overwrite", ["print('safe\\rEVIL')", "FINAL('safe\\rEVIL')"]),
    ("final-bidi-override", ["FINAL('\\u202eevil')"]),
    ("stderr-escape", ["import sys\nprint('\\x1b[31mred', file=sys.stderr)", "FINAL('ok')"]),
    ("prompt-escape-in-subcall", ["r = llm_query('\\x1b]0;title\\x07 hi')", "FINAL(r)"]),
    ("error-message-escape", ["raise ValueError('\\x1b[2J\\u2028[/x]')", "FINAL('ok')"]),
    ("var-name-escape", ["globals()['v\\x1b[2J'] = 1", "FINAL('ok')"]),
]  # fmt: skip

# (id, cells; every cell after the first is stuck behind a thread holding the GIL in C)
# The thread starts holding the GIL just after the cell has returned (the model "thinks" for
# PAUSE seconds before its next step), so the next request finds the worker stuck.
STRAY = "import threading\nx = 'done'\nthreading.Timer(0.2, lambda: sum(range(10**15))).start()"
PAUSE = 0.6
TIMEOUTS = [
    ("stray-c-thread-then-final-var-prose", [STRAY, "FINAL_VAR(x)"]),
    ("stray-c-thread-then-final-var-cell", [STRAY, "```repl\nFINAL_VAR('x')\n```"]),
    ("stray-c-thread-then-any-cell", [STRAY, "```repl\nprint(1)\n```"]),
    ("stray-threads-calling-back", ["import threading\ndef spin():\n    while True: llm_query('again')\nfor _ in range(4): threading.Thread(target=spin, daemon=True).start()\nimport time\ntime.sleep(10**6)"]),
    ("sleep-past-the-budget", ["import time\ntime.sleep(10**6)"]),
]  # fmt: skip

# (id, turn-one cell that tampers; turn two runs an honest cell and must get honest results)
EVIL = "def evil(*a, **k):\n    return 'HIJACKED'\n"
HIJACKS = [
    ("rebind-llm-query", EVIL + "llm_query = evil\nglobals()['FINAL'] = evil"),
    ("closure-cell-swap-final", EVIL + "for c in FINAL.__closure__:\n    if callable(c.cell_contents): c.cell_contents = evil"),
    ("closure-impl-code-swap", "def evil(self, value):\n    self._final = 'HIJACKED'\n    return value\nfor c in FINAL.__closure__:\n    if hasattr(c.cell_contents, '__code__'): c.cell_contents.__code__ = evil.__code__"),
    ("closure-call-swap-llm-query", EVIL + "for c in llm_query.__closure__:\n    if callable(c.cell_contents): c.cell_contents = evil"),
    ("module-factory-table", EVIL + "llm_query.__globals__['HELPER_FACTORIES']['FINAL'] = lambda s: evil\nllm_query.__globals__['HELPER_FACTORIES']['llm_query'] = lambda s: evil"),
    ("class-method-code-swap", "import _rlm_runtime\ndef evil(self, value):\n    self._final = 'HIJACKED'\n    return value\n_rlm_runtime.REPLSession._final_value.__code__ = evil.__code__"),
    ("defaults-swap", "llm_query.__defaults__ = ('evil-model',)\nFINAL.__defaults__ = ('HIJACKED',)"),
    ("show-vars-and-final-var-rebind", EVIL + "SHOW_VARS = evil\nFINAL_VAR = evil\nrlm_query = evil"),
    ("toolkit-helper-code-swap", EVIL + "for f in (llm_batch, ask):\n    f.__code__ = evil.__code__ if not f.__closure__ else f.__code__\n    for c in f.__closure__ or ():\n        if callable(c.cell_contents): c.cell_contents = evil"),
]  # fmt: skip

ENGINE_PAYLOADS = (
    [(n, "records", c) for n, c in RECORDS]
    + [(n, "timeouts", c) for n, c in TIMEOUTS]
    + [(n, "hijack", c) for n, c in HIJACKS]
)


def scripted_model(cells: list[str], pause: float = 0.0):
    """A root model that answers iteration i with cells[i] (in a repl fence unless it already
    is fenced or is prose FINAL...), after `pause` seconds from the second iteration on;
    sub-calls get "sub:<prompt>"."""

    def model(messages):
        if len(messages) == 1:
            return "sub:" + str(messages[0]["content"])
        i = sum(1 for m in messages if m["role"] == "assistant")
        if i:
            time.sleep(pause)
        cell = cells[min(i, len(cells) - 1)]
        if cell.startswith(("```", "FINAL")):
            return cell
        return f"```repl\n{cell}\n```"

    return model


@pytest.fixture(autouse=True)
def _sandbox_here():
    require_sandbox()


def _clean(text: str, where: str) -> None:
    bad = UNSAFE.search(text)
    assert bad is None, f"{where}: {bad.group()!r} reached the terminal: {text[max(0, bad.start() - 60):bad.end() + 20]!r}"  # fmt: skip


@pytest.mark.parametrize(("name", "cells"), RECORDS, ids=[n for n, _ in RECORDS])
def test_records_and_terminal_survive_model_text(tmp_path, capsys, name, cells):
    logger = RLMLogger(log_dir=tmp_path)
    rlm = RLM(backend="function", backend_kwargs={"function": scripted_model(cells)},
              environment="sandbox", logger=logger, verbose=True, max_iterations=4)  # fmt: skip
    result = rlm.completion("a document")  # must not raise (UnicodeEncodeError, MarkupError)
    (run,) = read_log(logger.log_file_path)  # the log is readable: the run did not vanish
    assert run.iterations, "the run's iterations are missing from the log"
    assert run.summary()["final_answer"] == result.response  # read back exactly, escapes and all
    _clean(capsys.readouterr().err, "verbose console")


@pytest.mark.parametrize(
    "name", ["final-window-title", "final-bidi-override", "print-carriage-return-overwrite",
             "prompt-escape-in-subcall", "final-lone-surrogate"],
)  # fmt: skip
def test_rlm_run_prints_the_answer_as_plain_text(tmp_path, monkeypatch, name):
    isolate_cli(tmp_path, monkeypatch)
    cells = dict(RECORDS)[name]
    responses = []
    for cell in cells:
        responses.append(f"```repl\n{cell}\n```")
        if "llm_query" in cell:
            responses.append("sub-answer")  # the sub-call takes the next scripted response
    out = CliRunner().invoke(main, ["run", "q", "--backend", "scripted", "--backend-kwargs",
                                    json.dumps({"responses": responses}), "--log-dir",
                                    str(tmp_path / "logs")], catch_exceptions=False)  # fmt: skip
    assert out.exit_code == 0, out.stderr
    _clean(out.stdout, "rlm run stdout")
    _clean(out.stderr, "rlm run stderr")
    assert ESC not in out.stdout + out.stderr


@pytest.mark.parametrize(("name", "cells"), TIMEOUTS, ids=[n for n, _ in TIMEOUTS])
def test_max_timeout_holds_against_stray_threads(name, cells):
    budget = 2.0
    rlm = RLM(backend="function", backend_kwargs={"function": scripted_model(cells, PAUSE)},
              environment="sandbox", max_timeout=budget, max_iterations=6,
              environment_kwargs={"cell_timeout": 60})  # fmt: skip
    start = time.monotonic()
    with pytest.raises(RLMError):
        rlm.completion("a document")
    elapsed = time.monotonic() - start
    # Budget plus worker start-up and kill on a loaded 2-core machine; the bug held ~30 s.
    assert elapsed < budget + 10, f"{name}: the host was held {elapsed:.1f}s (budget {budget}s)"


def test_next_turn_context_load_is_bounded_too():
    """Persistent mode: a stray C thread left by turn one must not hold turn two's context
    load past turn two's own max_timeout."""
    late = "import threading\nthreading.Timer(0.5, lambda: sum(range(10**15))).start()"
    cells = [late + "\nFINAL('t1')", "FINAL('t2')"]
    rlm = RLM(backend="function", backend_kwargs={"function": scripted_model(cells)},
              environment="sandbox", persistent=True, max_timeout=2.0)  # fmt: skip
    try:
        assert rlm.completion("turn one").response == "t1"
        start = time.monotonic()
        try:
            rlm.completion("turn two")
        except RLMError:
            pass  # a timeout is the right outcome; being held is not
        assert time.monotonic() - start < 12
    finally:
        rlm.close()


@pytest.mark.parametrize(("name", "tamper"), HIJACKS, ids=[n for n, _ in HIJACKS])
def test_tampering_does_not_reach_later_turns(name, tamper):
    honest = "r = llm_query('hi')\nb = llm_batch(['hi'])[0]\nFINAL(r + '|' + b + '|honest')"
    turn = {"n": 0}

    def model(messages):
        if len(messages) == 1:
            return "sub:" + str(messages[0]["content"])
        first_turn = turn["n"] == 0
        if sum(1 for m in messages if m["role"] == "assistant") == 0:
            return f"```repl\n{tamper}\n```" if first_turn else f"```repl\n{honest}\n```"
        turn["n"] += 1
        return "FINAL(done)"

    rlm = RLM(backend="function", backend_kwargs={"function": model}, environment="sandbox",
              persistent=True)  # fmt: skip
    try:
        rlm.completion("turn one")
        assert rlm.completion("turn two").response == "sub:hi|sub:hi|honest"
    finally:
        rlm.close()
