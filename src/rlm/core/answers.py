"""What may be returned as an answer, and how a run says it ended.

A small model copies templates: it writes `FINAL(answer)` (the reserved dict), `FINAL(...)`,
`Final(the answer)`, or a code block as its "answer". None of these is an answer. `vet` turns
such text into None (no answer), with a note for the model saying what went wrong.

Finish reasons (`RLMChatCompletion.finish_reason`, the JSONL log, `rlm run --json`):
  final          the model gave a final answer (FINAL, FINAL_VAR, answer["ready"])
  auto_finalize  the `auto_finalize_var` variable held a value after a turn
  max_iterations out of iterations: the answer was forced (a last "best answer" request)
  loop           a loop was detected (repeated code or errors, or replies with neither code
                 nor FINAL): the run ended early with the best answer so far
  limit          a limit tripped (budget, timeout, tokens, errors) or the run was cancelled;
                 the error carries the partial answer
  empty          the run ended without any usable answer
  unverified     (with a first look) the final answer is in none of the lines the model was
                 shown nor in what its code printed, even after one request to check it;
                 or a year repeated where the whole date was asked for (core/grounding)
  plain          depth >= max_depth: one plain model call, its reply is the answer
"""

from __future__ import annotations

import ast
import re

from rlm.core.parsing import is_code

FINAL = "final"
AUTO_FINALIZE = "auto_finalize"
MAX_ITERATIONS = "max_iterations"
LOOP = "loop"
LIMIT = "limit"
EMPTY = "empty"
PLAIN = "plain"
UNVERIFIED = "unverified"
FINISH_REASONS = (FINAL, AUTO_FINALIZE, MAX_ITERATIONS, LOOP, LIMIT, EMPTY, UNVERIFIED, PLAIN)
# Answers the model gave itself; any other reason means the answer was forced or is missing.
MODEL_GIVEN = frozenset({FINAL, AUTO_FINALIZE, PLAIN})

# Template words a model copies instead of answering.
_PLACEHOLDERS = {
    "answer",
    "the answer",
    "your answer",
    "final answer",
    "your final answer",
    "the final answer",
    "answer here",
    "value",
    "variable_name",
    "your answer here",
    "...",
    "…",
}
_RESERVED_DICT = re.compile(
    r"^\{\s*['\"]content['\"]\s*:.*['\"]ready['\"]\s*:\s*(True|False)\s*\}$", re.S
)
# Phrases only our own prompts contain: the FINAL template and the query line's label.
_PROMPT_ECHOES = ("FINAL(...)", "FINAL(…)", "The query to answer:")
_FINAL_CALL = re.compile(r"^\s*final(?:_var)?\s*\((.*)\)\s*$", re.I | re.S)

NOT_AN_ANSWER = (
    "{what} is not an answer. Write the answer itself inside FINAL(...), for example the "
    "number, name or sentence the output above shows; or keep searching with a ```repl block."
)


def reserved_answer_content(text: str) -> str | None:
    """For the text of the reserved `answer` dict: its content, or None when it is empty."""
    match = _RESERVED_DICT.match(text.strip())
    if not match:
        return text
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        return None
    content = value.get("content") if isinstance(value, dict) else None
    return str(content) if content not in ("", None) else None


def looks_like_code(text: str) -> bool:
    stripped = text.strip()
    if "```" in stripped:
        return True
    return is_code(stripped)


def vet(text: str | None) -> tuple[str | None, str]:
    """(the answer, "") or (None, a note for the model saying why this is not an answer)."""
    if text is None:
        return None, ""
    stripped = text.strip()
    if not stripped:
        return None, NOT_AN_ANSWER.format(what="An empty FINAL")
    if _RESERVED_DICT.match(stripped):
        content = reserved_answer_content(stripped)
        if content is None:
            return None, NOT_AN_ANSWER.format(
                what='`answer` (its content is empty: answer["content"] was never set)'
            )
        return vet(content)
    call = _FINAL_CALL.match(stripped)
    if call:  # "Final(answer)" copied as prose: judge what is inside
        return vet(call.group(1).strip().strip("'\""))
    if stripped.lower().strip("<>[]{}\"'` .") in _PLACEHOLDERS or stripped in ("...", "…"):
        return None, NOT_AN_ANSWER.format(what=f"{stripped!r} (a template word)")
    if looks_like_code(stripped):
        return None, NOT_AN_ANSWER.format(what="Code")
    if any(echo in stripped for echo in _PROMPT_ECHOES):
        # A reply that repeats our own instructions (small models echo the turn prompt) is
        # the template, not an answer, however long it is.
        return None, NOT_AN_ANSWER.format(what="A copy of the instructions")
    return text, ""


def first_usable(*candidates: str | None) -> str | None:
    """The first candidate that is an answer (see `vet`), or None."""
    for candidate in candidates:
        answer, _ = vet(candidate)
        if answer is not None:
            return answer
    return None
