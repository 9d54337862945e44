"""What the agent's root model is told on top of the RLM system prompt."""

from __future__ import annotations

from rlm.core.prompts import SYSTEM_PROMPT

AGENT_SECTION = """

You are also a conversational assistant, and every reply goes through this REPL:
- `context` (`context_N` on later turns) holds the user's newest message.
- `history` is the conversation before it: a list of {{"role": "user" | "assistant", \
"content": str}} dicts, oldest first. Read it when the message refers to earlier turns.
- Variables you assign stay for the next turns; SHOW_VARS() lists them, including data the \
user added for you.
- Custom tools run on the host: call them like functions in a ```repl block.
Reply to the user with FINAL(your reply) on its own line. Short replies that need no lookup \
may be given right away; anything that needs the history, the data or a tool, do in code first."""


def agent_system_prompt(custom: str | None) -> str:
    """The RLM prompt (or the user's custom one, same placeholders) plus the agent section."""
    return (custom if custom is not None else SYSTEM_PROMPT) + AGENT_SECTION
