"""Keeping what the root model is sent inside its context window.

Two budgets, both derived from the model's window (`BaseLM.context_window`):

- A turn's REPL output: at most `OUTPUT_SHARE` of the window (in characters, at a
  conservative `CHARS_PER_TOKEN`), never more than `output_limit`, split across the turn's
  blocks. A 128k-token model keeps the 20,000-character default; an 8k-token local model gets
  about 3,700 characters a turn instead of 20,000 it cannot hold.
- The whole conversation: when the messages would no longer leave room for the reply, the
  oldest turns' REPL output is replaced by a one-line note (the model's own code and the
  newest turns stay), so a long run degrades instead of failing on a context overflow.
"""

from __future__ import annotations

from rlm.types import Message

CHARS_PER_TOKEN = 3.0  # code and numbers tokenize worse than prose: err on the safe side
OUTPUT_SHARE = 0.15
MIN_TURN_CHARS = 1_000
MIN_BLOCK_CHARS = 400
KEEP_LAST_MESSAGES = 2  # the newest exchange is never elided
ELIDED = "(REPL output of an earlier turn, elided to fit the model's context window)"


def turn_output_chars(output_limit: int, context_window: int) -> int:
    """Characters of REPL output one turn may show the model."""
    by_window = int(context_window * OUTPUT_SHARE * CHARS_PER_TOKEN)
    return max(min(output_limit, MIN_TURN_CHARS), min(output_limit, by_window))


def block_output_chars(output_limit: int, context_window: int, blocks: int) -> int:
    """The share of one block when a turn ran `blocks` blocks."""
    turn = turn_output_chars(output_limit, context_window)
    return max(MIN_BLOCK_CHARS, turn // max(1, blocks))


def estimate_tokens(messages: list[Message]) -> int:
    return int(sum(len(str(m.get("content", ""))) + 8 for m in messages) / CHARS_PER_TOKEN)


def fit_to_window(messages: list[Message], context_window: int, reply_tokens: int) -> list[Message]:
    """`messages`, with the oldest REPL feedback elided until they leave `reply_tokens` free.
    The system prompt, the first user message and the newest exchange are kept whole."""
    room = context_window - reply_tokens
    if estimate_tokens(messages) <= room:
        return messages
    fitted = [dict(m) for m in messages]
    last_elidable = len(fitted) - KEEP_LAST_MESSAGES
    for index in range(2, last_elidable):
        message = fitted[index]
        if message.get("role") != "user" or message.get("content") == ELIDED:
            continue
        message["content"] = ELIDED
        if estimate_tokens(fitted) <= room:
            break
    return fitted  # type: ignore[return-value]


def reply_reserve(sampling: dict, context_window: int) -> int:
    """Tokens to keep free for the reply: the call's output cap, at most a quarter window."""
    cap = sampling.get("max_tokens") or sampling.get("max_output_tokens") or 1024
    try:
        cap = int(cap)
    except (TypeError, ValueError):
        cap = 1024
    return min(cap, context_window // 4)
