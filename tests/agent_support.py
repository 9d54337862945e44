"""A function-backend chat model for the agent tests, and a one-turn script that a test runs
in a real subprocess to resume a session from the store.

The model answers every message the same way: one ```repl block that counts the turns in a
REPL variable (saved with the session), reads `history`, calls the `lookup` tool when one is
registered, and prints a line; then FINAL(<that line>), streamed in pieces.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

CODE = """\
count = globals().get("count", 0) + 1
said = [m["content"] for m in history if m["role"] == "user"]
found = lookup("cats") if "lookup" in globals() else "-"
print(f"turn {count}; earlier: {' / '.join(said) or 'none'}; tool: {found}")"""


def chat_model(messages: list[dict[str, Any]]) -> Any:
    last = messages[-1]["content"]
    if "REPL output:" not in last:
        return f"Let me check.\n```repl\n{CODE}\n```"
    line = last.split("REPL output:\n", 1)[1].split("\n", 1)[0]
    reply = f"Done.\nFINAL({line})\n"
    # Streamed in small pieces, as a provider would.
    return (reply[i : i + 7] for i in range(0, len(reply), 7))


def make_agent(store: str, session: str, log_dir: str, environment: str = "sandbox") -> Any:
    from rlm import create_enforced_agent

    agent = create_enforced_agent(
        backend="function",
        backend_kwargs={"function": chat_model, "model_name": "chat-model"},
        environment=environment,
        session=session,
        store=store,
        log_dir=log_dir,
    )
    agent.register_tool("lookup", lambda topic: f"{topic}: 3 facts", "Look a topic up.")
    return agent


async def _one_turn(store: str, session: str, log_dir: str, message: str) -> str:
    agent = make_agent(store, session, log_dir)
    try:
        return await agent.chat(message)
    finally:
        agent.close()


if __name__ == "__main__":
    store_path, session_name, logs, text = sys.argv[1:5]
    print(json.dumps({"answer": asyncio.run(_one_turn(store_path, session_name, logs, text))}))
