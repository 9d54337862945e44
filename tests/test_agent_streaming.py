"""The answer streamer against the engine's own reading of FINAL: whatever pieces a reply
arrives in, the answer chunks spell exactly the answer the loop ends with."""

from __future__ import annotations

import pytest

from rlm.agent.streaming import AgentChunk, AnswerStreamer, answer_text, speculative_answer
from rlm.core.parsing import find_final, literal_text


def engine_answer(reply: str) -> str:
    """What the loop answers for a reply with a prose FINAL(...) (no variables bound)."""
    marker = find_final(reply)
    assert marker is not None
    literal = literal_text(marker.inner)
    return literal if literal is not None else marker.inner


REPLIES = [
    'Done.\nFINAL("Hello, world.")',
    "FINAL(The answer is 42 (roughly).)\nThanks!",
    "FINAL(It's 4)",
    "```repl\nx = 1\nFINAL(x)\n```\nFINAL(plain prose here)",
    'FINAL("""spans\nlines""")',
    'FINAL("with \\"escapes\\" inside")',
    "FINAL('single quoted')",
    "FINAL(  spaced out   )",
]


def stream(reply: str, size: int) -> list[AgentChunk]:
    chunks: list[AgentChunk] = []
    streamer = AnswerStreamer(chunks.append)
    streamer.reply_started()
    for i in range(0, len(reply), size):
        streamer.feed(reply[i : i + size])
    last = streamer.finish(engine_answer(reply))
    if last is not None:
        chunks.append(last)
    return chunks


@pytest.mark.parametrize("reply", REPLIES)
@pytest.mark.parametrize("size", [1, 3, 1000])
def test_streamed_pieces_spell_the_engines_answer(reply: str, size: int) -> None:
    chunks = stream(reply, size)
    assert answer_text(chunks) == engine_answer(reply)
    # Never a correction for these: the pieces sent are always a prefix of the answer.
    assert all(c.kind == "answer" for c in chunks)
    assert "".join(chunks) == engine_answer(reply)


def test_the_answer_streams_before_the_reply_is_complete() -> None:
    chunks: list[AgentChunk] = []
    streamer = AnswerStreamer(chunks.append)
    streamer.reply_started()
    for piece in ["Sure.\nFINAL(", '"Once upon', " a time"]:
        streamer.feed(piece)
    assert "".join(chunks) == "Once upon a time"


def test_a_variable_answer_is_sent_whole_and_a_wrong_guess_is_replaced() -> None:
    assert speculative_answer("FINAL(result)") is None  # resolved from the REPL at the end
    chunks: list[AgentChunk] = []
    streamer = AnswerStreamer(chunks.append)
    streamer.reply_started()
    streamer.feed("FINAL(draft text")
    last = streamer.finish("what the code decided")
    assert last is not None and last.kind == "replace"
    assert answer_text([*chunks, last]) == "what the code decided"


def test_final_inside_a_code_fence_is_not_an_answer() -> None:
    assert speculative_answer("```repl\nFINAL(x + 1\n") == ""
