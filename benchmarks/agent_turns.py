"""What an AgentRLM turn costs on top of the RLM turn it runs, measured in one run.

    python benchmarks/agent_turns.py [--turns 40] [--rounds 5] [--environment sandbox]

Both sides run the same conversation with the same function-backend model (one code cell and
one FINAL per turn) in a persistent REPL: plain `RLM(persistent=True).acompletion` against
`AgentRLM.chat` (which also binds `history`, saves the turn, its messages and the REPL's JSON
variables to SQLite, and writes the turn's log) and `AgentRLM.chat(stream=True)`. Both sides
log a trajectory file per turn. Reported: the median over rounds of each run's median
milliseconds per turn, and the ratios.
Writes benchmarks/results/agent-turns.json and .md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from rlm import RLM, AgentRLM  # noqa: E402
from rlm.logger import RLMLogger  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def model(messages: list[dict[str, Any]]) -> str:
    if "REPL output:" in messages[-1]["content"]:
        return "FINAL(noted)"
    return "```repl\nnotes = globals().get('notes', []) + [len(history)]\nprint(len(notes))\n```"


async def plain_turns(turns: int, environment: str, logs: Path) -> list[float]:
    rlm = RLM(
        backend="function",
        backend_kwargs={"function": model},
        environment=environment,
        persistent=True,
        logger=RLMLogger(logs),
    )
    times = []
    try:
        for i in range(turns):
            start = time.perf_counter()
            await rlm.acompletion(f"message {i}", root_prompt=f"message {i}")
            times.append(time.perf_counter() - start)
    finally:
        rlm.close()
    return times


async def agent_turns(turns: int, environment: str, work: Path, stream: bool) -> list[float]:
    agent = AgentRLM(
        backend="function",
        backend_kwargs={"function": model},
        environment=environment,
        store=work / "sessions.db",
        log_dir=work / "agent-logs",
        session=f"bench-{'stream' if stream else 'plain'}",
    )
    times = []
    try:
        for i in range(turns):
            start = time.perf_counter()
            if stream:
                async for _chunk in agent.chat(f"message {i}", stream=True):
                    pass
            else:
                await agent.chat(f"message {i}")
            times.append(time.perf_counter() - start)
    finally:
        agent.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=40)
    parser.add_argument("--environment", default="sandbox")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    sides: dict[str, list[float]] = {"rlm": [], "agent": [], "agent_stream": []}
    with tempfile.TemporaryDirectory() as tmp:
        # Sides interleaved, --rounds times, so machine noise hits all of them alike; the
        # first turn of every run starts the REPL and is dropped.
        for round_ in range(args.rounds):
            work = Path(tmp) / str(round_)
            n = args.turns + 1
            runs = {
                "rlm": plain_turns(n, args.environment, work / "rlm-logs"),
                "agent": agent_turns(n, args.environment, work, False),
                "agent_stream": agent_turns(n, args.environment, work, True),
            }
            for name, coroutine in runs.items():
                sides[name].append(statistics.median(asyncio.run(coroutine)[1:]))
    ms = {name: statistics.median(values) * 1000 for name, values in sides.items()}
    result = {
        "command": "python " + " ".join(sys.argv),
        "machine": f"{platform.machine()} {platform.python_version()}",
        "environment": args.environment,
        "turns": args.turns,
        "rounds": args.rounds,
        "median_ms_per_turn": {k: round(v, 2) for k, v in ms.items()},
        "agent_over_rlm": round(ms["agent"] / ms["rlm"], 2),
        "stream_over_rlm": round(ms["agent_stream"] / ms["rlm"], 2),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "agent-turns.json").write_text(json.dumps(result, indent=2) + "\n")
    table = (
        f"`{result['command']}` ({result['machine']}, environment {args.environment}, "
        f"{args.turns} turns x {args.rounds} rounds, median per turn)\n\n"
        "| side | ms per turn | ratio to RLM |\n|---|---|---|\n"
        f"| RLM(persistent=True).acompletion | {ms['rlm']:.1f} | 1.00 |\n"
        f"| AgentRLM.chat | {ms['agent']:.1f} | {result['agent_over_rlm']:.2f} |\n"
        f"| AgentRLM.chat(stream=True) | {ms['agent_stream']:.1f} | "
        f"{result['stream_over_rlm']:.2f} |\n"
    )
    (RESULTS / "agent-turns.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
