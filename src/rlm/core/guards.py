"""Guards on how a run may end: loop detection and pyrlm-runtime's finishing rules.

The loop asks `RunWatch` after every iteration what to do; the watch keeps the state.

Loops. A model at temperature 0 that repeats itself repeats forever: the same code (the same
output again), or code that fails with the same error. The first repeat is answered with one
warning to the model; a repeat after that ends the run early with its best answer so far
(finish reason "loop"). Replies with neither code nor FINAL count towards the same verdict
once `invalid_response_limit` of them come in a row (default: 3).

Finishing rules (RLM keywords, as in pyrlm-runtime):
- `require_repl_before_final`: a FINAL before any code has run is refused (the model is
  told to check first), unless the lines of the first look (the engine's own search,
  core/first_look.py) show it.
- `require_subcall_before_final`: a FINAL before any llm_query / rlm_query call is refused.
- `invalid_response_limit`: that many replies in a row without code or FINAL run
  `fallback_code` (once, if given), else end the run (finish reason "loop").
- `fallback_code`: code the engine runs itself when the run would otherwise end without
  progress (the invalid-response limit, or a loop); its output is shown to the model.
- `auto_finalize_var`: after each iteration that ran code, a REPL variable of that name
  holding a non-empty value ends the run with it (finish reason "auto_finalize").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum

from rlm.core.answers import first_usable
from rlm.core.first_look import FirstLook
from rlm.core.grounding import grounded, partial_date
from rlm.types import CodeBlock

DEFAULT_INVALID_RESPONSE_LIMIT = 3

LOOP_WARNING = (
    "Note: {what}. Running it again will not change the result. Do something different: "
    "search for other words, print a smaller part, or, if the output above answers the "
    "query, reply with FINAL(...) with the answer inside. Another repeat ends the run."
)
REPL_FIRST = (
    "FINAL was not accepted: no code has run yet, so the answer is not checked against the "
    "context. Write a ```repl block that finds it first."
)
# Said once, for an answer given from the first look alone that none of its lines show.
UNGROUNDED = (
    "FINAL({answer}) was not accepted yet: {answer} is not written in the lines shown above "
    "next to the query's words. If it is a count or a computed value, compute it with code "
    "in a ```repl block and print it. If the context states it, find that line with code "
    "and print it. Then answer with FINAL(...)."
)
COUNT_FIRST = (
    "FINAL({answer}) was not accepted yet: the query asks for a count, and the lines above "
    "are only a sample. Count in code over the whole of `context` (the documents named above "
    "are where to look) in a ```repl block, print the number, then answer with FINAL(...)."
)
# Said once, for a year given where the query asks for a date and a shown line has it whole.
# Written as the FINAL line to give: told only "answer with the whole date", the 1.5B model
# repeated the year twice out of two.
WHOLE_DATE = (
    "FINAL({answer}) was not accepted yet: the query asks for a date, and the lines above "
    "give it whole ({date}). If that is the date the query asks for, reply FINAL({date})."
)
# Said once, for a count that disagrees with the engine's own count of what the query quotes
# and describes (core/counting.py): `text.count("class ")` also counts "Base class for".
COUNT_CHECK = (
    "FINAL({answer}) was not accepted yet: counting the {what} in {where} exactly gives "
    "{count}. Check what your code counted: `text.count(...)` also counts matches inside "
    "other words, comments and docstrings. Then answer with FINAL(...)."
)
# Said once, for "which file defines X" answered with a file other than the one whose line
# defines X (the 1.5B model answered loader.py, where the query's other words were).
DEFINED_IN = (
    "FINAL({answer}) was not accepted yet: the line that defines {name}, `{line}`, is in "
    "{file}. If that is what the query asks for, reply FINAL({file})."
)
SUBCALL_FIRST = (
    "FINAL was not accepted: this run requires at least one llm_query or rlm_query call "
    "before the final answer. Make one in a ```repl block first."
)


@dataclass(frozen=True)
class FinishGuards:
    """The user's finishing rules (see the module docstring)."""

    require_repl_before_final: bool = False
    require_subcall_before_final: bool = False
    invalid_response_limit: int | None = None
    fallback_code: str | None = None
    auto_finalize_var: str | None = None


class Action(Enum):
    CONTINUE = "continue"
    WARN = "warn"  # continue, with the watch's note added to the feedback
    FALLBACK = "fallback"  # run the fallback code, then continue
    STOP = "stop"  # end the run with the best answer so far


@dataclass
class Verdict:
    action: Action
    note: str = ""


_SPACE = re.compile(r"\s+")
_ADDRESS = re.compile(r" at 0x[0-9a-f]+")


def _code_key(blocks: Sequence[CodeBlock]) -> str:
    return "\n".join(_SPACE.sub(" ", b.code).strip() for b in blocks)


def _error_key(blocks: Sequence[CodeBlock]) -> str | None:
    """The last line of the last error (the exception and its message), addresses removed."""
    errors = [b.result.stderr for b in blocks if b.result.had_error and b.result.stderr.strip()]
    if not errors:
        return None
    last = errors[-1].strip().splitlines()[-1]
    return _ADDRESS.sub("", last)


@dataclass
class RunWatch:
    guards: FinishGuards = field(default_factory=FinishGuards)
    repl_ran: bool = False
    subcalls: int = 0
    warned: bool = False
    fallback_ran: bool = False
    invalid_streak: int = 0
    reason: str = ""  # why the last STOP was given (for the log)
    evidence: FirstLook | None = None  # the first look the model was shown, if any
    grounding_asked: bool = False
    date_asked: bool = False
    count_asked: bool = False
    where_asked: bool = False
    refused: bool = False  # this reply's FINAL was refused (its feedback says why)
    outputs: list[str] = field(default_factory=list)  # what code printed, with a first look
    _seen_code: set[str] = field(default_factory=set)
    _last_error: str | None = None

    # -- FINAL ------------------------------------------------------------------------------
    def refuse_final(self, final: str | None = None) -> str | None:
        """Why a FINAL given now is not accepted, or None when it is."""
        note = self._refusal(final)
        self.refused = note is not None and final is not None
        return note

    def _refusal(self, final: str | None) -> str | None:
        if (
            self.guards.require_repl_before_final
            and not self.repl_ran
            and not self._shown_by_first_look(final)
        ):
            return REPL_FIRST
        if (
            final is not None
            and self.evidence is not None
            and not self.repl_ran
            and not self.grounding_asked
            and not grounded(final, self.evidence)
        ):
            self.grounding_asked = True
            note = COUNT_FIRST if self.evidence.count else UNGROUNDED
            return note.format(answer=final.strip()[:80])
        if final is not None and self.evidence is not None and not self.date_asked:
            whole = partial_date(final, self.evidence)
            if whole is not None:
                self.date_asked = True
                return WHOLE_DATE.format(answer=final.strip()[:80], date=whole)
        check = self.evidence.count_check if self.evidence is not None else None
        if (
            final is not None
            and check is not None
            and not self.count_asked
            and check.agrees(final) is False
        ):
            self.count_asked = True
            return COUNT_CHECK.format(
                answer=final.strip()[:80],
                what=check.what,
                where=check.where,
                count=check.describe(),
            )
        if final is not None and not self.where_asked and self._elsewhere(final):
            self.where_asked = True
            name, file, line = self.evidence.defined_in  # type: ignore[union-attr,misc]
            return DEFINED_IN.format(answer=final.strip()[:80], name=name, line=line, file=file)
        if self.guards.require_subcall_before_final and self.subcalls == 0:
            return SUBCALL_FIRST
        return None

    def _shown_by_first_look(self, final: str | None) -> bool:
        """The first look is the engine's own search of the context: an answer its lines show
        is checked against the context, which is what require_repl_before_final asks for."""
        return final is not None and self.evidence is not None and grounded(final, self.evidence)

    def _elsewhere(self, final: str) -> bool:
        """For "which file defines X": the answer names none of the file whose line does."""
        defined = self.evidence.defined_in if self.evidence is not None else None
        if defined is None or len(final) > 200:
            return False
        stem = defined[1].rsplit("/", 1)[-1].rsplit(".", 1)[0]  # core.py, "pkg.core", "core"
        return not re.search(rf"(?<![\w-]){re.escape(stem)}\b", final, re.I)

    def unverified(self, final: str) -> bool:
        """True for a FINAL accepted after a request to check it (see `refuse_final`) that
        still fails the check: given without code and in none of the lines shown, still
        only the year of the whole date the lines show, a count the engine's own exact count
        of what the query describes disagrees with, or, for "which file defines X", still a
        file other than the one whose line defines X."""
        if self.evidence is None:
            return False
        if self.date_asked and partial_date(final, self.evidence) is not None:
            return True
        if self.where_asked and self._elsewhere(final):
            return True
        check = self.evidence.count_check
        agrees = check.agrees(final) if check is not None else None
        if agrees is not None:  # the engine counted it itself: nothing else to check
            return not agrees
        if self.repl_ran:  # the answer must be in the lines shown or in what the code printed
            return not grounded(final, self.evidence, self.outputs)
        return self.grounding_asked and not grounded(final, self.evidence)

    def auto_finalize(self, resolve: Callable[[str], str | None]) -> str | None:
        """The `auto_finalize_var` value when it is set to an answer and FINAL is allowed."""
        name = self.guards.auto_finalize_var
        if not name or self.refuse_final():
            return None
        return first_usable(resolve(name))

    def record_blocks(self, blocks: Sequence[CodeBlock]) -> None:
        """Count what an iteration ran (before its FINAL, if any, is judged)."""
        self.refused = False
        if blocks:
            self.repl_ran = True
        self.subcalls += sum(len(b.result.rlm_calls) for b in blocks)
        if self.evidence is not None:  # what the model saw, for checking its answer
            for block in blocks:
                self.outputs += [block.result.stdout, str(block.result.final_answer or "")]

    # -- after an iteration without a final answer ------------------------------------------
    def after_iteration(self, response_text: str, blocks: Sequence[CodeBlock]) -> Verdict:
        if not blocks:
            return self._invalid(response_text)
        self.invalid_streak = 0
        repeats: list[str] = []
        key = _code_key(blocks)
        if key in self._seen_code:
            repeats.append("you ran exactly the same code as before")
        self._seen_code.add(key)
        error = _error_key(blocks)
        if error is not None and error == self._last_error:
            repeats.append(f"your code failed again with the same error ({error[:160]})")
        self._last_error = error
        if not repeats:
            return Verdict(Action.CONTINUE)
        return self._repeat(" and ".join(repeats))

    def _invalid(self, response_text: str) -> Verdict:
        self.invalid_streak += 1
        limit = self.guards.invalid_response_limit or DEFAULT_INVALID_RESPONSE_LIMIT
        if self.invalid_streak < limit:
            return Verdict(Action.CONTINUE)
        what = f"{self.invalid_streak} replies in a row had neither code nor FINAL"
        if self.guards.fallback_code and not self.fallback_ran:
            self.fallback_ran = True
            self.invalid_streak = 0
            return Verdict(Action.FALLBACK, what)
        self.reason = what
        return Verdict(Action.STOP, what)

    def _repeat(self, what: str) -> Verdict:
        if not self.warned:
            self.warned = True
            return Verdict(Action.WARN, LOOP_WARNING.format(what=what[:1].upper() + what[1:]))
        if self.guards.fallback_code and not self.fallback_ran:
            self.fallback_ran = True
            return Verdict(Action.FALLBACK, what)
        self.reason = what
        return Verdict(Action.STOP, what)
