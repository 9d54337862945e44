"""The gateway: the six MCP tools over one `Codebase`, bounded, scrubbed and audited.

Independent of the MCP SDK (server.py only adapts it), so every rule lives in one place:
each response is one JSON text of at most 8 KB, names files only by handle and repo-relative
path, and is recorded in the provenance log with its size and SHA-256 before it is returned.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from rlm.codebase.bounds import MAX_RESPONSE_BYTES, clip_text, page
from rlm.codebase.errors import CodebaseError
from rlm.codebase.mcp.audit import AuditLog
from rlm.codebase.repo import Codebase
from rlm.errors import RLMError

log = logging.getLogger("rlm.codebase.mcp")

MAX_SEARCH_HITS = 1000  # searched per call; paged out 8 KB at a time
MAX_QUESTION_CHARS = 4000

TOOL_DESCRIPTIONS = {
    "list_files": "List the repository's files (path, handle, language, lines, bytes). "
    "glob filters shell-style ('*.py' at any depth). Paged: pass next_cursor back as cursor.",
    "search_code": "Find lines containing pattern (a literal, or a Python regex with "
    "regex=true), optionally only in files matching glob. Paged by cursor.",
    "read_span": "Read lines start..end of a file by handle: at most 200 lines / 8 KB per "
    "call. 'next' is the continuation handle: pass it as handle to read on.",
    "symbols": "Find function/class/method definitions whose name contains query, with their "
    "file handle and line range. Paged by cursor.",
    "outline": "A file's definitions (name, kind, line range) by handle. Paged by cursor.",
    "ask": "Ask a question about the repository: a Recursive Language Model navigates the "
    "code with these same tools and answers citing path:line spans.",
}


class Gateway:
    """Serves tool calls for one repository. `ask_factory` builds the RLM for `ask`."""

    def __init__(
        self,
        codebase: Codebase,
        audit: AuditLog,
        ask_runner: Callable[[Codebase, str], str] | None = None,
    ):
        self.codebase = codebase
        self.audit = audit
        self.ask_runner = ask_runner
        self._tools: dict[str, Callable[..., dict[str, Any]]] = {
            "list_files": self._list_files,
            "search_code": self._search_code,
            "read_span": self._read_span,
            "symbols": self._symbols,
            "outline": self._outline,
            "ask": self._ask,
        }

    @property
    def tool_names(self) -> list[str]:
        return list(self._tools)

    def call(self, tool: str, arguments: dict[str, Any], client: str) -> str:
        """Run one tool; return its JSON text (errors too, as {"error": ...}). Always audited."""
        arguments = {k: v for k, v in arguments.items() if v is not None}
        ok, error = True, None
        try:
            fn = self._tools[tool]
            result = fn(**arguments)
        except (CodebaseError, TypeError, ValueError) as exc:
            ok, error = False, str(exc)
        except RLMError as exc:  # ask: limits, model errors; the caller should see why
            ok, error = False, f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # never a traceback (or a host path) to the client
            log.exception("tool %s failed", tool)
            ok, error = False, f"internal error ({type(exc).__name__}); see the server's log"
        if not ok:
            error = self.codebase.scrub(str(error))[:1000]
            result = {"error": error}
        text = self.codebase.scrub(json.dumps(result, ensure_ascii=False))
        if len(text.encode("utf-8")) > MAX_RESPONSE_BYTES:  # a last guard; tools fit already
            log.error("tool %s produced %d bytes; replaced by an error", tool, len(text))
            ok, error = False, "response over the size limit"
            text = json.dumps({"error": error})
        self.audit.record(
            client=client,
            tool=tool,
            arguments=arguments,
            handles=sorted(_handles(result) | _handles(arguments)),
            returned=text,
            ok=ok,
            error=error,
        )
        return text

    # -- the tools ---------------------------------------------------------------------------
    def _list_files(self, glob: str | None = None, cursor: int = 0) -> dict[str, Any]:
        return page(self.codebase.list_files(glob), cursor, key="files")

    def _search_code(
        self, pattern: str, regex: bool = False, glob: str | None = None, cursor: int = 0
    ) -> dict[str, Any]:
        found = self.codebase.search_code(pattern, regex, glob, max_results=MAX_SEARCH_HITS)
        return page(found["hits"], cursor, key="hits", extra={"truncated": found["truncated"]})

    def _read_span(
        self, handle: str, start: int | None = None, end: int | None = None
    ) -> dict[str, Any]:
        span = self.codebase.read_span(handle, start, end)
        # JSON escaping can grow text (quotes, backslashes): shrink the span until it fits.
        while len(json.dumps(span, ensure_ascii=False).encode()) > MAX_RESPONSE_BYTES - 256:
            lines = span["end"] - span["start"] + 1
            if lines <= 1:
                span["text"], _ = clip_text(span["text"], MAX_RESPONSE_BYTES // 3)
                span["cut_line"] = span["start"]
                break
            span = self.codebase.read_span(handle, span["start"], span["start"] + lines // 2 - 1)
        return span

    def _symbols(self, query: str, cursor: int = 0) -> dict[str, Any]:
        return page(self.codebase.symbols(query), cursor, key="symbols")

    def _outline(self, handle: str, cursor: int = 0) -> dict[str, Any]:
        outline = self.codebase.outline(handle)
        symbols = outline.pop("symbols")
        return page(symbols, cursor, key="symbols", extra=outline)

    def _ask(self, question: str) -> dict[str, Any]:
        if self.ask_runner is None:
            raise CodebaseError("this gateway was started without a model; ask is disabled")
        if not isinstance(question, str) or not question.strip():
            raise CodebaseError("ask needs a question")
        if len(question) > MAX_QUESTION_CHARS:
            raise CodebaseError(f"the question is over {MAX_QUESTION_CHARS} characters")
        answer, cut = clip_text(self.ask_runner(self.codebase, question), MAX_RESPONSE_BYTES - 512)
        return {"answer": answer, "truncated": cut}


def _handles(value: Any) -> set[str]:
    """Every file handle mentioned in a result or arguments (continuations included)."""
    found: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, sub in item.items():
                if key in ("handle", "next") and isinstance(sub, str):
                    found.add(sub.partition(":")[0])
                else:
                    stack.append(sub)
        elif isinstance(item, list):
            stack.extend(item)
    return found
