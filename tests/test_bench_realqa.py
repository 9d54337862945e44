"""The real-material question set: every question is proven by its corpus on this machine,
grading is strict about dumps and template text, and the runner drives `rlm run`'s own code
path end to end (a function plays the model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmarks.realqa import runner
from benchmarks.realqa.questions import CORPORA, QUESTIONS
from benchmarks.realqa.scoring import is_correct


def _available(corpus: str) -> bool:
    return all(Path(p.replace("*.py", "")).exists() for p in CORPORA[corpus])


def test_the_set_is_large_real_and_varied():
    assert len(QUESTIONS) >= 20
    assert len({q.qid for q in QUESTIONS}) == len(QUESTIONS)
    assert sum(q.aggregation for q in QUESTIONS) >= 3


@pytest.mark.parametrize("corpus", sorted(CORPORA))
def test_every_answer_is_proven_by_its_corpus(corpus):
    if not _available(corpus):
        pytest.skip(f"{CORPORA[corpus]} is not on this machine")
    _, docs = runner.load_corpus(corpus)
    for q in (q for q in QUESTIONS if q.corpus == corpus):
        assert runner.verified(q, docs), q.qid


def test_grading():
    assert is_correct("The licensee has 30 days.", ("30",), True, "section 8?")
    assert is_correct("Section 7", ("7",), True, "q")
    assert not is_correct("28", ("30",), True, "q")
    assert not is_correct("{'content': '', 'ready': False}", ("decoder.py",), False, "q")
    assert is_correct("/usr/lib/python3/json/decoder.py", ("decoder.py",), False, "q")
    assert not is_correct("x " * 300 + "decoder.py", ("decoder.py",), False, "q")


@pytest.mark.skipif(not _available("apache-2.0"), reason="no /usr/share/common-licenses here")
def test_runner_end_to_end_with_a_function_model(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))

    def model(messages):
        if messages[0]["role"] == "system":  # the RLM
            if len(messages) == 2:
                return "```repl\nprint([l for l in context.splitlines() if 'Warranty.' in l])\n```"
            return "FINAL(7)"
        return "8"  # the plain call

    rows = runner.main(
        backend="function",
        backend_kwargs={"function": model},
        methods=["plain", "rlm", "router"],
        cli_flags={"environment": "local"},
        name="realqa-test",
        command="pytest",
        only=["apache-warranty-section"],
        out_dir=tmp_path,
    )
    by_method = {r["method"]: r for r in rows}
    assert by_method["plain"]["correct"] is False
    rlm_row = by_method["rlm"]
    assert (rlm_row["correct"], rlm_row["finish_reason"], rlm_row["exit_code"]) == (
        True,
        "final",
        0,
    )
    assert by_method["router"]["finish_reason"] == "plain"  # 11 KB fits: one plain call
    table = (tmp_path / "realqa-test.md").read_text()
    assert "Reproduce: `pytest`" in table and "RLM wrong answers that exited 0: 0" in table
    saved = json.loads((tmp_path / "realqa-test.json").read_text())
    assert len(saved["rows"]) == len(rows)


@pytest.mark.skipif(not _available("apache-2.0"), reason="no /usr/share/common-licenses here")
def test_replay_feeds_recorded_replies_through_this_engine(tmp_path, monkeypatch):
    """A recorded run whose model guessed '9' straight from the first look, twice: this
    engine's replay returns it as unverified (exit 4) without any model."""
    from benchmarks.realqa.replay import replay

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    logs = tmp_path / "old-logs"
    logs.mkdir()
    log = logs / "rlm_run.jsonl"
    log.write_text(
        "\n".join(
            json.dumps({"type": "iteration", "iteration": i, "response": "FINAL(9)"})
            for i in (1, 2)
        )
    )
    row = {"qid": "apache-warranty-section", "method": "rlm", "prediction": "9",
           "finish_reason": "final", "exit_code": 0, "log_path": f"/elsewhere/{log.name}"}  # fmt: skip
    (tmp_path / "old.jsonl").write_text(json.dumps(row) + "\n")
    md = replay("old", window=8_192, out_dir=tmp_path)
    saved = json.loads((tmp_path / "old-replay.json").read_text())["rows"]
    assert saved[0]["replayed"][1:] == ["unverified", 4]
    assert saved[0]["correct"] is False and not saved[0]["needs_rerun"]
    assert "Wrong answers that exit 0 in the replay: 0" in md.read_text()


def test_combine_takes_chosen_methods_and_later_rows_win(tmp_path):
    def run(name, rows):
        meta = {"commit": "abc", "date": "d", "command": f"cmd {name}", "title": "t"}
        meta["machine"] = {"cpu": "x", "cores": 2, "memory_gb": 1, "os": "l", "python": "3"}
        (tmp_path / f"{name}.json").write_text(json.dumps({"meta": meta, "rows": rows}))

    def row(qid, method, prediction, correct):
        return {
            "qid": qid, "method": method, "prediction": prediction, "correct": correct,
            "corpus": "c", "context_chars": 10, "gold": "7", "time_s": 1.0,
            "finish_reason": "final", "exit_code": 0,
        }  # fmt: skip

    run("old", [row("q1", "plain", "7", True), row("q1", "rlm", "8", False)])
    run("new", [row("q1", "rlm", "7", True), row("q2", "rlm", "7", True)])
    run("more", [row("q2", "plain", "9", False)])
    runner.combine(["old:plain", "new", "more"], "both", out_dir=tmp_path)
    rows = json.loads((tmp_path / "both.json").read_text())["rows"]
    got = sorted((r["qid"], r["method"], r["prediction"], r["source"]) for r in rows)
    assert got == [
        ("q1", "plain", "7", "old"),
        ("q1", "rlm", "7", "new"),
        ("q2", "plain", "9", "more"),
        ("q2", "rlm", "7", "new"),
    ]
    assert "- `old:plain`: commit `abc`" in (tmp_path / "both.md").read_text()
