"""AgentRLM with a function-backend model in the default sandbox: tools, memory, streaming,
sessions resumed by another process, cancellation."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from agent_support import chat_model, make_agent
from env_support import sandbox_skip_reason
from rlm import AgentRLM, create_enforced_agent
from rlm.agent import AgentChunk, SessionStore, answer_text
from rlm.errors import ConfigurationError, TokenLimitExceededError

pytestmark = pytest.mark.skipif(
    sandbox_skip_reason() is not None, reason=str(sandbox_skip_reason())
)
TESTS = Path(__file__).parent


@pytest.fixture
def where(tmp_path: Path) -> dict[str, str]:
    return {"store": str(tmp_path / "sessions.db"), "log_dir": str(tmp_path / "logs")}


async def _collect(agent: AgentRLM, message: str) -> list[AgentChunk]:
    return [chunk async for chunk in agent.chat(message, stream=True)]


def test_tools_history_and_streaming_in_the_default_sandbox(where: dict[str, str]) -> None:
    agent = make_agent(where["store"], "s1", where["log_dir"])
    agent.add_context("user_info", {"name": "Alex"})

    async def talk() -> tuple[str, list[AgentChunk]]:
        first = await agent.chat("hello there")
        return first, await _collect(agent, "and now?")

    try:
        first, chunks = asyncio.run(talk())
    finally:
        agent.close()
    # The tool ran on the host, called from model code in the sandbox.
    assert first == "turn 1; earlier: none; tool: cats: 3 facts"
    # The second turn sees the first in `history` and the REPL variable it left.
    second = answer_text(chunks)
    assert second == "turn 2; earlier: hello there; tool: cats: 3 facts"
    answer_pieces = [c for c in chunks if c.kind == "answer"]
    assert len(answer_pieces) > 1, "the answer should arrive in pieces as the model streams"
    assert "".join(answer_pieces) == second
    assert any(c.kind == "progress" and "tool lookup" in c for c in chunks)
    store = SessionStore(where["store"])
    assert [t.status for t in store.turns("s1")] == ["ok", "ok"]
    assert [c["name"] for c in store.tool_calls("s1")] == ["lookup", "lookup"]
    assert store.variables("s1")["user_info"] == {"name": "Alex"}
    assert store.variables("s1")["count"] == 2
    assert all(Path(t.log_file).exists() for t in store.turns("s1"))


def test_a_second_process_resumes_the_session(where: dict[str, str]) -> None:
    agent = make_agent(where["store"], "shared", where["log_dir"])
    try:
        assert asyncio.run(agent.chat("first question")).startswith("turn 1;")
    finally:
        agent.close()
    script = [sys.executable, str(TESTS / "agent_support.py"), where["store"], "shared"]
    out = subprocess.run(
        [*script, where["log_dir"], "second question"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    answer = json.loads(out.stdout.strip().splitlines()[-1])["answer"]
    assert answer == "turn 2; earlier: first question; tool: cats: 3 facts"
    store = SessionStore(where["store"])
    assert [m["content"] for m in store.messages("shared")][-1] == answer
    assert store.totals("shared")["turns"] == 2


def test_cancelling_a_stream_stops_the_turn_and_records_it(where: dict[str, str]) -> None:
    def slow_model(messages: list[dict]) -> str:
        if "take your time" not in messages[-1]["content"]:
            return "FINAL(awake)"
        return "```repl\nimport time\ntime.sleep(120)\nprint('slept')\n```"

    agent = create_enforced_agent(
        backend="function",
        backend_kwargs={"function": slow_model},
        session="c1",
        **where,
    )

    async def cancel_mid_turn() -> list[AgentChunk]:
        seen = []
        async with contextlib.aclosing(agent.chat("take your time", stream=True)) as chunks:
            async for chunk in chunks:
                seen.append(chunk)
                break  # leaving the loop closes the stream, which cancels the turn
        return seen

    try:
        seen = asyncio.run(cancel_mid_turn())
        [turn] = agent.store.turns("c1")
        assert seen[0].kind == "progress"
        assert turn.status == "cancelled" and turn.answer is None
        assert agent.store.messages("c1") == []  # a cancelled turn adds nothing to history
        # The REPL recovers: the next turn runs.
        assert asyncio.run(agent.chat("still there?")) == "awake"
        assert [t.status for t in agent.store.turns("c1")] == ["cancelled", "ok"]
    finally:
        agent.close()


def test_session_limits_hold_across_turns(where: dict[str, str]) -> None:
    agent = create_enforced_agent(
        backend="function",
        backend_kwargs={"function": chat_model},
        environment="local",
        session="capped",
        max_session_tokens=50,
        **where,
    )
    try:
        with pytest.raises(TokenLimitExceededError):
            asyncio.run(agent.chat("hi"))  # the first turn's prompt alone is over the cap
        with pytest.raises(TokenLimitExceededError, match=r"session used its tokens cap \(50\)"):
            asyncio.run(agent.chat("hi again"))
        assert [t.status for t in agent.store.turns("capped")] == ["error"]
    finally:
        agent.close()


def test_bad_names_and_values_are_refused(where: dict[str, str]) -> None:
    agent = AgentRLM(backend="function", backend_kwargs={"function": chat_model}, **where)
    try:
        with pytest.raises(ConfigurationError, match="reserved"):
            agent.register_tool("history", print)
        with pytest.raises(ConfigurationError, match="JSON"):
            agent.add_context("blob", object())
        with pytest.raises(ConfigurationError, match="max_depth"):
            AgentRLM(backend="function", backend_kwargs={"function": chat_model}, max_depth=0)
    finally:
        agent.close()


def test_async_tools_and_tools_added_between_turns(where: dict[str, str]) -> None:
    async def weather(city: str) -> str:
        await asyncio.sleep(0)
        return f"{city}: rain"

    replies = iter(
        [
            "```repl\nnotes = ['first']\nFINAL(weather('Oslo'))\n```",
            "```repl\nnotes.append(shout('second'))\nFINAL(' / '.join(notes))\n```",
        ]
    )
    agent = AgentRLM(
        backend="function",
        backend_kwargs={"function": lambda messages: next(replies)},
        session="tools",
        **where,
    )
    agent.register_tool("weather", weather, "Today's weather in a city.")

    async def talk() -> list[str]:
        first = await agent.chat("weather?")
        # A new tool restarts the REPL; its JSON variables carry over.
        agent.register_tool("shout", lambda text: text.upper())
        return [first, await agent.chat("more")]

    try:
        assert asyncio.run(talk()) == ["Oslo: rain", "first / SECOND"]
        calls = agent.store.tool_calls("tools")
        assert [(c["name"], c["arguments"]["args"], c["turn"]) for c in calls] == [
            ("weather", ["Oslo"], 0),
            ("shout", ["second"], 1),
        ]
        assert calls[0]["result"] == "'Oslo: rain'"
    finally:
        agent.close()


def test_concurrent_writers_from_two_processes(tmp_path: Path) -> None:
    store_path = tmp_path / "shared.db"
    writer = (
        "import sys\n"
        "from rlm.agent.store import SessionStore, TurnRecord\n"
        "store = SessionStore(sys.argv[1])\n"
        "name = sys.argv[2]\n"
        "store.ensure_session(name)\n"
        "for i in range(100):\n"
        "    record = TurnRecord(i, f'q{i}', f'a{i}', 'ok', None, 1, 1, None, 0.0, None)\n"
        "    msgs = [{'role': 'user', 'content': f'q{i}'}, {'role': 'assistant', 'content': 'a'}]\n"
        "    store.record_turn(name, record, None, msgs, {'i': i})\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", writer, str(store_path), name])
        for name in ("left", "right")
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    store = SessionStore(store_path)
    try:
        for name in ("left", "right"):
            assert store.totals(name)["turns"] == 100
            assert len(store.messages(name)) == 200
            assert store.variables(name) == {"i": 99}
        assert store._read("PRAGMA integrity_check") == [("ok",)]
        assert store._read("PRAGMA journal_mode") == [("wal",)]
    finally:
        store.close()


def test_two_agents_alternating_on_one_session_see_each_others_turns(
    where: dict[str, str],
) -> None:
    first = make_agent(where["store"], "both", where["log_dir"], environment="local")
    second = make_agent(where["store"], "both", where["log_dir"], environment="local")

    async def alternate() -> list[str]:
        return [
            await first.chat("one"),
            await second.chat("two"),
            await first.chat("three"),
        ]

    try:
        answers = asyncio.run(alternate())
        assert [a.split("; tool")[0].split("earlier: ")[1] for a in answers] == [
            "none",
            "one",
            "one / two",
        ]
        assert [t.turn for t in first.store.turns("both")] == [0, 1, 2]
    finally:
        first.close()
        second.close()


def test_a_turn_cancelled_while_the_model_thinks_leaves_the_repl_clean(
    where: dict[str, str],
) -> None:
    """Cancelled during the model call (no cell running): the interrupt meant for that turn
    must not stop the next turn's first cell."""
    thinking = threading.Event()
    release = threading.Event()

    def model(messages: list[dict]) -> str:
        if "slow question" in messages[-1]["content"]:
            thinking.set()
            release.wait(30)
            return "FINAL(late)"
        if "Interrupted" in messages[-1]["content"]:
            return "FINAL(the first cell was interrupted)"
        return "```repl\nFINAL(str(6 * 7))\n```"

    agent = AgentRLM(backend="function", backend_kwargs={"function": model}, session="t", **where)

    async def cancel_while_thinking() -> None:
        task = asyncio.ensure_future(agent.chat("slow question"))
        await asyncio.to_thread(thinking.wait, 30)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        release.set()

    try:
        asyncio.run(cancel_while_thinking())
        assert asyncio.run(agent.chat("quick question")) == "42"
        assert [t.status for t in agent.store.turns("t")] == ["cancelled", "ok"]
    finally:
        release.set()
        agent.close()
