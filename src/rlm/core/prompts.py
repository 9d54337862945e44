"""What the root model is told. Kept lean: small local models pay for every prompt token."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rlm.core.context_shape import ContextShape
from rlm.core.counting import line_count_code
from rlm.core.first_look import FirstLook
from rlm.environments import ToolSpec
from rlm.types import CodeBlock, QueryMetadata

SYSTEM_PROMPT = """\
You answer a query using a Python REPL. The data you need is in the REPL variable `context`. \
It may be far larger than you can read at once: never print it whole. Inspect it with code, \
hand pieces of it to sub-models, and combine what they find.

REPL names:
- `context`: {context_description} A first look could be:
{context_example}
- `llm_query(prompt, model=None) -> str`: ask a sub-model. It sees only `prompt`, so put the \
text it needs into the prompt (a sub-model reads roughly {sub_chars:,} characters at most).
- `llm_query_batched(prompts, model=None) -> list[str]`: many prompts run concurrently; \
answers come back in order. Much faster than calling llm_query in a loop.
- Helpers: `P` (the context as one text), `ctx.find("text")` -> [(start, end, match)], \
`ctx.chunk(n)`, `peek(n)`, `extract_after("marker")`, `ask(question, text)`, \
`ask_chunks(question, chunks)` -> one answer per chunk.
- `rlm_query(prompt, model=None) -> str` and `rlm_query_batched(prompts)`: {rlm_query_text}
- `SHOW_VARS()`: your variables. `print(...)` shows values; output over {output_limit:,} \
characters per block is cut.{extra_names}{tool_text}

Write code in ```repl blocks. They run in order; you see their output next turn. Variables \
persist between blocks and turns.

Finish with exactly one of:
- FINAL(...) on its own line, outside code, with the answer itself inside the parentheses;
- FINAL_VAR(...) on its own line, with the name of a REPL variable that holds the answer;
- FINAL(value) or FINAL_VAR("name") called inside a ```repl block.
The first FINAL ends the run, so only write it once you have the answer. Answer from what the context shows, not from memory.

Good strategy: look at the context's structure first (type, length, a sample), split it into \
chunks that fit a sub-model, query the chunks with llm_query_batched, then aggregate in code."""

FIRST_TURN = (
    "{query_line}You have not looked at `context` yet. Reply with a ```repl block that "
    "searches it for words from the query, or looks at its structure."
)
# The same turn when the engine searched the context first (core/first_look.py). The query is
# repeated after the passages: a small model attends to what it read last.
FIRST_LOOK_TURN = (
    "Before you started, a search of `context` for the query's words found these lines:"
    "\n\n{look}\n\nThese lines are only a sample of the "
    "context: to count, list, add up or compute things, write code in a ```repl block.\n\n"
    # "the line that shows it": asked for "the words of the lines that show it", the 1.5B
    # model quoted whole paragraphs (one ran past a 150 s limit) and answered worse.
    '{query_line}If the lines above show the answer, reply now with two lines: first "> " '
    "and the line that shows it, copied; then FINAL(...) with the whole answer inside the "
    "parentheses, every part the query asks for."
)
# A count cannot be read off a sample: no invitation to answer from the lines.
FIRST_LOOK_COUNT_TURN = (
    "Before you started, a search of `context` for the query's words found these lines:"
    "\n\n{look}\n\n{query_line}This query asks for a count, and the lines above are only a "
    "sample of the context. Count in code over {where}: reply with a ```repl block that "
    "prints the number and a few of the things it counted, to check them, for example:"
    "\n```repl\ntext = {count_in}\n{count_code}\n```{count_note}"
)
# Without a quoted text to count, the example leaves it open; `text.count(word)` (what small
# models write unprompted) also counts the word inside comments, docstrings and longer words.
COUNT_CODE = line_count_code('line.startswith("...")')
COUNT_NOTE = (
    '\nPut what the counted lines start with in place of "...", or test `"..." in line` to '
    "count the lines that contain it."
)
# "How many different versions": counting lines that match counts repeats of one version.
DISTINCT_CODE = (
    'import re\nfound = set(re.findall(r"...", text))\nprint(len(found), sorted(found)[:10])'
)
DISTINCT_NOTE = (
    '\nPut a pattern for the values in place of "..." (its group, if it has one, is what is '
    "kept), so each different value is counted once."
)
_DISTINCT = re.compile(r"\b(?:different|distinct|unique)\b", re.I)
# Offering FINAL first matters for small models: "continue, or finish" reads as "continue".
# Never "FINAL(answer)": `answer` is a REPL name, and a small model copies templates literally.
NEXT_TURN = (
    "{query_line}If this output answers the query, reply now with one line: FINAL(...) with "
    "the answer itself inside the parentheses. Otherwise write more ```repl code."
)
# After code that printed a count: told "if this output answers the query", the 1.5B model
# ran the same code again three times; a FINAL line written out it gives.
COUNT_NEXT_TURN = (
    "{query_line}If {n} is the count the query asks for, reply now with one line: FINAL({n}). "
    "Otherwise write more ```repl code."
)
# A search that printed nothing found nothing: small models "answer" from it anyway.
NOTHING_PRINTED_TURN = (
    "{query_line}Your code printed nothing, so it found nothing. Search again with a "
    "different or shorter word, or print a small part of the context to see how it is written."
)
# After an error a small model tends to give up in prose ("No match found."): say what to do.
ERROR_TURN = (
    "{query_line}Your code failed with the error above. Fix the code, or search another way, "
    "in a new ```repl block."
)
# The first look asks for "> the line" before FINAL; a model that stops after the quote
# repeats it at temperature 0 unless told the quote is done.
QUOTE_ONLY = "You quoted the line. Now reply with one line only: FINAL(...) with the answer."
NO_CODE_TURN = (
    "{query_line}Your last reply ran no code and gave no FINAL. Write a ```repl block, or "
    "finish with one line: FINAL(...) with the answer itself inside the parentheses."
)
# After a FINAL was sent back: "ran no code and gave no FINAL" would contradict the note, and
# a small model then repeated the refused answer.
REFUSED_TURN = (
    "{query_line}Reply with a ```repl block, or with one line only: FINAL(...) with the "
    "answer the note above asks for."
)
BEST_ANSWER = (
    "{query_line}{why} Reply now with your best answer from what you found so far, as one "
    "line: FINAL(...) with the answer itself inside the parentheses."
)
OUT_OF_ITERATIONS = "You are out of iterations."
LOOP_DETECTED = "The run is ending because it is repeating itself ({what})."
BUDGET_SPENT = (
    "{query_line}The sub-call budget is used up ({what}). Reply now with your best answer "
    "from what you found so far, as one line: FINAL(...) with the answer itself inside the "
    "parentheses."
)
COMPACTION = (
    "Your conversation is getting long. Summarise it for yourself: what the task is, what you "
    "found (with exact values), which REPL variables hold results, and what is left to do. "
    "Reply with the summary only; the REPL state is kept."
)
AFTER_COMPACTION = (
    "(Earlier turns were summarised above; every earlier message is in the REPL variable "
    "`history`.) Continue from the summary."
)


def describe_context(meta: QueryMetadata, shape: ContextShape | None = None) -> str:
    if shape is not None:
        return shape.description
    lengths = meta.context_lengths
    if len(lengths) <= 1:
        return f"a {meta.context_type} of {meta.context_total_length:,} characters."
    shown = ", ".join(f"{n:,}" for n in lengths[:10])
    more = f", ... ({len(lengths) - 10} more)" if len(lengths) > 10 else ""
    return (
        f"a {meta.context_type} of {len(lengths):,} chunks, {meta.context_total_length:,} "
        f"characters in all; chunk lengths: {shown}{more}."
    )


def build_system_prompt(
    meta: QueryMetadata,
    *,
    depth: int,
    max_depth: int,
    tools: Sequence[ToolSpec],
    output_limit: int,
    sub_chars: int = 400_000,
    turn: int = 0,
    compaction: bool = False,
    notes: Sequence[str] = (),
    custom: str | None = None,
    shape: ContextShape | None = None,
) -> str:
    """The system prompt. `shape` (from `describe_shape(context)`) gives the context's real
    form and a matching example; without it only type and lengths are stated."""
    if depth + 1 < max_depth:
        rlm_query_text = (
            "like llm_query, but the callee is itself an RLM with its own REPL, and the "
            "prompt becomes its `context`. Use it for sub-tasks that need exploring."
        )
    else:
        rlm_query_text = "at this depth these are plain sub-model calls, same as llm_query."
    extra = ""
    if turn > 0:
        extra = (
            f"\n- `context_0` .. `context_{turn}`: the contexts of this conversation's turns "
            f"(`context` is `context_0`; the newest is `context_{turn}`), and `history_0` .. "
            f"`history_{turn - 1}`: the message lists of earlier turns."
        )
    if compaction:
        extra += "\n- `history`: every message of this run, kept even when turns are summarised."
    extra += (
        '\n- `answer`: a dict {"content": "", "ready": False}; set answer["content"] as you go '
        'and answer["ready"] = True to finish with it.'
    )
    tool_text = ""
    if tools:
        lines = []
        for tool in tools:
            kind = "function" if tool.is_callable else f"value ({type(tool.value).__name__})"
            desc = f": {tool.description}" if tool.description else ""
            lines.append(f"- `{tool.name}`: custom {kind}{desc}")
        tool_text = "\nCustom tools:\n" + "\n".join(lines)
    tool_text += "".join(f"\n\n{note}" for note in notes)
    template = custom if custom is not None else SYSTEM_PROMPT
    try:
        return template.format(
            context_description=describe_context(meta, shape),
            context_example=shape.example if shape is not None else _GENERIC_EXAMPLE,
            sub_chars=sub_chars,
            rlm_query_text=rlm_query_text,
            output_limit=output_limit,
            extra_names=extra,
            tool_text=tool_text,
        )
    except (KeyError, IndexError, ValueError):
        # A custom prompt with its own braces: use it as written, plus the facts we must state.
        return f"{template}\n\n`context` is {describe_context(meta, shape)}{tool_text}"


_GENERIC_EXAMPLE = "```repl\nprint(type(context), len(context))\n```"


def next_turn(
    blocks: Sequence[CodeBlock], refused: bool = False, look: FirstLook | None = None
) -> str:
    """The closing line of a turn's feedback, by what its code did (or, with `refused`, after
    a FINAL the notes above sent back). For a count, the number the code printed first is
    named as the FINAL to give."""
    if refused and not blocks:
        return REFUSED_TURN
    if not blocks:
        return NO_CODE_TURN
    if blocks[-1].result.had_error:
        return ERROR_TURN
    printed = any(b.result.stdout.strip() or b.result.stderr.strip() for b in blocks)
    number = _LEADING_NUMBER.match(blocks[-1].result.stdout)
    if look is not None and look.count and number:
        return COUNT_NEXT_TURN.replace("{n}", number.group(1))
    return NEXT_TURN if printed else NOTHING_PRINTED_TURN


_LEADING_NUMBER = re.compile(r"\s*(\d[\d,]*)(?![\w.])")


def first_turn(
    root_prompt: str | None, turn: int, *, prologue: str | None, look: FirstLook | None
) -> str:
    """The opening user message; with `look`, it shows the context's lines that best match
    the query (core/first_look.py)."""
    if look is not None:
        where = " and ".join(f"`{n}`" for n in dict.fromkeys(look.named)) or "all of `context`"
        if look.named:
            where += " (the file the query names)" if len(look.named) == 1 else " (named files)"
        template = FIRST_LOOK_COUNT_TURN if look.count else FIRST_LOOK_TURN
        check = look.count_check
        distinct = bool(root_prompt and _DISTINCT.search(root_prompt))
        first = template.format(
            look=look.text,
            query_line=query_line(root_prompt),
            where=where,
            count_in=look.count_in,
            count_code=check.code if check else (DISTINCT_CODE if distinct else COUNT_CODE),
            count_note="" if check else (DISTINCT_NOTE if distinct else COUNT_NOTE),
        )
    else:
        first = FIRST_TURN.format(query_line=query_line(root_prompt))
    if turn:
        first = first.replace("`context`", f"`context_{turn}` (this turn's context)")
        first += (
            f"\n\n{turn + 1} contexts are loaded (`context_0` .. `context_{turn}`) "
            f"and {turn} earlier conversation history(ies) (`history_0` .. "
            f"`history_{turn - 1}`)."
        )
    return f"{prologue}\n\n{first}" if prologue else first


def query_line(root_prompt: str | None) -> str:
    return f'The query to answer: "{root_prompt}"\n\n' if root_prompt else ""
