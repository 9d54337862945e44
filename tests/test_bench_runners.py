"""Tiny smoke runs of every benchmark runner, end to end through real subprocesses and the
real engine, writing their result files into a temporary directory."""

from __future__ import annotations

import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import benchmarks  # noqa: F401
import pytest
from benchmarks import context_scale, engine_overhead, reference, task_runner, throughput
from benchmarks.plot import line_plot_svg
from benchmarks.tasks import make_niah, make_oolong


def _load(path: Path) -> dict:
    data = json.loads(path.read_text())
    assert re.fullmatch(r"[0-9a-f]{40}|unknown", data["meta"]["commit"])
    assert data["meta"]["machine"]["cores"] >= 1
    return data


def test_overhead_smoke_ours(tmp_path):
    rows = engine_overhead.main("smoke", ["ours"], ["local"], "o", tmp_path)
    assert len(rows) == 1
    row = rows[0]
    assert row["ok"] and row["sub_calls"] == 2
    assert row["wall_s"] >= row["ideal_s"] and row["ratio"] >= 1.0
    data = _load(tmp_path / "o.json")
    assert data["rows"][0]["engine"] == "ours"
    table = (tmp_path / "o.md").read_text()
    assert "ours local" in table and data["meta"]["commit"][:12] in table


def test_throughput_smoke_ours(tmp_path):
    rows = throughput.main("smoke", ["ours"], ["local"], "t", tmp_path)
    assert rows[0]["ok"]
    assert rows[0]["sequential_calls_per_s"] > 0 and rows[0]["batched_calls_per_s"] > 0
    assert "calls/s" in (tmp_path / "t.md").read_text()


def test_context_smoke_ours(tmp_path):
    rows = context_scale.main("smoke", ["ours"], ["local"], "c", tmp_path)
    assert rows[0]["ok"], rows[0]  # the model saw all 1 MB: it answered len(context)
    assert rows[0]["peak_rss_mb"] >= rows[0]["rss_before_mb"] >= 1
    _load(tmp_path / "c.json")


@pytest.mark.skipif(
    not reference.venv_python().exists(),
    reason="the reference virtualenv is not set up (run `python -m benchmarks overhead` once; "
    "it needs the package index)",
)
def test_overhead_smoke_side_by_side_with_the_reference(tmp_path):
    rows = engine_overhead.main("smoke", ["ours", "reference"], ["local"], "o", tmp_path)
    assert {(r["engine"], r["env"]) for r in rows} == {("ours", "local"), ("reference", "local")}
    assert all(r["ok"] for r in rows)
    table = (tmp_path / "o.md").read_text()
    assert "ours local" in table and "reference local" in table


class Solver:
    """Plays a model that reads perfectly: the plain call finds the needle in its prompt (so
    it fails only when truncation cut the needle out); as the RLM root it writes the code
    that finds it in `context`."""

    NEEDLE = r"special magic number for \w+ is (\d+)"

    def __init__(self):
        self.calls = 0

    def __call__(self, messages):
        self.calls += 1
        if messages[0]["role"] == "system":  # the RLM root
            return (
                "```repl\nimport re\n"
                f"m = re.search({self.NEEDLE!r}, context)\n"
                'answer["content"] = m.group(1) if m else "not found"\n'
                'answer["ready"] = True\n```\n'
            )
        found = re.search(self.NEEDLE, messages[-1]["content"])
        return found.group(1) if found else "not found"


def test_task_runner_plain_vs_rlm(tmp_path):
    from rlm.clients.offline import FunctionLM

    solver = Solver()
    client = FunctionLM(solver)
    # The needle sits past the window for seed 3 at 16K tokens: plain must miss it.
    tasks = [make_niah(2048, 0), make_niah(16 * 1024, 3), make_oolong(2048, 0)]
    depth = tasks[1].meta["depth"]
    assert depth > 0.3, "pick a seed whose needle lies beyond a 4K window"
    rows = task_runner.main(
        tasks,
        backend=client,
        backend_kwargs={},
        methods=["plain", "rlm"],
        rlm_kwargs={"environment": "local", "max_iterations": 3},
        window=4096,
        name="tk",
        command="test",
        out_dir=tmp_path,
    )
    by = {(r["task_id"], r["method"]): r for r in rows}
    assert by[("niah-2048-s0", "plain")]["score"] == 1.0
    assert not by[("niah-2048-s0", "plain")]["truncated"]
    assert by[("niah-16384-s3", "plain")]["truncated"]
    assert by[("niah-16384-s3", "plain")]["score"] == 0.0
    assert by[("niah-16384-s3", "rlm")]["score"] == 1.0
    assert by[("oolong-count-2048-s0", "rlm")]["score"] < 1.0  # the solver only does needles
    for r in rows:
        assert r["time_s"] >= 0 and r["input_tokens"] > 0 and r["error"] is None
    lines = (tmp_path / "tk.jsonl").read_text().splitlines()
    assert len(lines) == len(rows) == 6
    summary = (tmp_path / "tk.md").read_text()
    assert "(truncated)" in summary and "rlm score" in summary
    assert "| oolong-count | 2,048 |" in summary  # grouped by kind and requested size
    svg = ET.fromstring((tmp_path / "tk.svg").read_text())
    assert svg.tag.endswith("svg")


def test_svg_plot_draws_one_line_per_series():
    svg = line_plot_svg(
        {"niah / rlm": [(8192, 1.0), (32768, 0.5)], "niah / plain": [(8192, 1.0), (32768, 0.0)]},
        "t",
        dashed={"niah / plain"},
    )
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert len(root.findall(f"{ns}polyline")) == 2
    assert any(e.get("stroke-dasharray") for e in root.iter(f"{ns}polyline"))
