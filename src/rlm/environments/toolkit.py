"""The runtime layer's REPL names: `ctx`, `P`, `peek`, `tail`, `lenP`, `extract_after`, `ask`,
`ask_chunks`, `ask_chunks_first`, `pick_first_answer`, `llm_batch`, and the `Context` class.

Standard library only, like `runtime`: this module runs in-process for `local` and is shipped
to the worker of every out-of-process environment (as `_rlm_toolkit`). Helpers that need a
model go through the session's `llm_query` / `llm_query_batched`, i.e. the broker's host
calls; nothing here opens a file, a socket or a new channel.

One registration point: `build_helpers(context, llm_query, llm_query_batched)` returns every
name; `HELPER_NAMES` lists them (they are reserved and restored after each cell).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

HELPER_NAMES = (
    "ctx",
    "P",
    "peek",
    "tail",
    "lenP",
    "extract_after",
    "ask",
    "ask_chunks",
    "ask_chunks_first",
    "pick_first_answer",
    "llm_batch",
)
DEFAULT_SEPARATOR = "\n\n---\n\n"
# A chunk a small (8 k-token) sub-model reads whole with room for the question and answer.
DEFAULT_CHUNK_CHARS = 8_000
QUESTION_PREFIX = "Question:"
SNIPPET_PREFIX = "Snippet:"
NO_ANSWER = "NO_ANSWER"
_WIRE_KEY = "__rlm_context__"  # marks a Context sent to a worker as JSON data


class Context:
    """Text, or a list of documents, with safe inspection methods (pyrlm-runtime's API).

    `Context.from_text(text)` or `Context.from_documents(docs, separator=...)`; documents may
    be strings or `{"path"|"name", "content"}` dicts (the CLI's directory form). `text` is the
    documents joined by `separator` (for one text, the text itself: no copy).
    """

    __slots__ = ("_text", "context_type", "documents", "names", "separator")

    def __init__(
        self,
        documents: Iterable[str],
        *,
        separator: str = DEFAULT_SEPARATOR,
        context_type: str = "document_list",
        names: Iterable[str | None] | None = None,
        text: str | None = None,
    ):
        self.documents: tuple[str, ...] = tuple(documents)
        if not all(isinstance(d, str) for d in self.documents):
            raise TypeError("Context documents must be strings")
        self.separator = separator
        self.context_type = context_type
        self.names: tuple[str | None, ...] = (
            tuple(names) if names is not None else (None,) * len(self.documents)
        )
        self._text = text

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def from_text(cls, text: str) -> Context:
        if not isinstance(text, str):
            raise TypeError(f"Context.from_text expects a str, not {type(text).__name__}")
        return cls((text,), context_type="string", text=text)

    @classmethod
    def from_documents(
        cls, documents: Iterable[Any], *, separator: str = DEFAULT_SEPARATOR
    ) -> Context:
        docs, names = [], []
        for item in documents:
            name, content = _document(item)
            docs.append(content)
            names.append(name)
        return cls(docs, separator=separator, names=names)

    @classmethod
    def of(cls, value: Any) -> Context:
        """The Context view of any REPL context: a str, a list of documents, a dict."""
        if isinstance(value, Context):
            return value
        if isinstance(value, str):
            return cls.from_text(value)
        if isinstance(value, dict):
            return cls.from_documents({"name": str(k), "content": v} for k, v in value.items())
        if isinstance(value, (list, tuple)):
            return cls.from_documents(value)
        return cls.from_text(_as_text(value))

    # -- crossing into a worker (JSON data, never pickle) -------------------------------------
    def to_data(self) -> dict[str, Any]:
        return {
            _WIRE_KEY: 1,
            "context_type": self.context_type,
            "separator": self.separator,
            "documents": list(self.documents),
            "names": list(self.names),
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Context:
        if data.get("context_type") == "string":
            return cls.from_text(data["documents"][0] if data["documents"] else "")
        return cls(
            data["documents"],
            separator=data.get("separator", DEFAULT_SEPARATOR),
            names=data.get("names"),
        )

    # -- the API ----------------------------------------------------------------------------
    @property
    def text(self) -> str:
        if self._text is None:
            self._text = self.separator.join(self.documents)
        return self._text

    def len_chars(self) -> int:
        return len(self.text)

    def num_documents(self) -> int:
        return len(self.documents)

    def get_document(self, index: int) -> str | None:
        if 0 <= index < len(self.documents):
            return self.documents[index]
        return None

    def document_lengths(self) -> list[int]:
        return [len(d) for d in self.documents]

    def document_names(self) -> list[str | None]:
        return list(self.names)

    def slice(self, start: int, end: int) -> str:
        n = len(self.text)
        start, end = max(0, min(start, n)), max(0, min(end, n))
        return self.text[start:end] if start < end else ""

    def find(
        self,
        pattern: str,
        regex: bool = False,
        *,
        max_matches: int = 20,
        case_sensitive: bool = True,
    ) -> list[tuple[int, int, str]]:
        """`(start, end, matched_text)` of the first `max_matches` matches in `text`."""
        if not pattern or max_matches <= 0:
            return []
        text = self.text
        if regex:
            flags = 0 if case_sensitive else re.IGNORECASE
            found = []
            for m in re.finditer(pattern, text, flags):
                found.append((m.start(), m.end(), m.group(0)))
                if len(found) >= max_matches:
                    break
            return found
        haystack = text if case_sensitive else text.lower()
        needle = pattern if case_sensitive else pattern.lower()
        found, start = [], 0
        while len(found) < max_matches:
            i = haystack.find(needle, start)
            if i < 0:
                break
            found.append((i, i + len(needle), text[i : i + len(needle)]))
            start = i + len(needle)
        return found

    def chunk(self, size: int, overlap: int = 0) -> list[tuple[int, int, str]]:
        """`(start, end, text)` pieces of `size` characters, consecutive ones sharing `overlap`."""
        if size <= 0:
            raise ValueError("size must be > 0")
        if not 0 <= overlap < size:
            raise ValueError("overlap must be >= 0 and < size")
        text, out, start = self.text, [], 0
        while start < len(text):
            end = min(len(text), start + size)
            out.append((start, end, text[start:end]))
            if end == len(text):
                break
            start = end - overlap
        return out

    def chunk_documents(self, docs_per_chunk: int = 10) -> list[tuple[int, int, list[str]]]:
        """`(first_index, end_index, documents)` groups of `docs_per_chunk` documents."""
        if docs_per_chunk <= 0:
            raise ValueError("docs_per_chunk must be > 0")
        docs = self.documents
        return [
            (i, min(i + docs_per_chunk, len(docs)), list(docs[i : i + docs_per_chunk]))
            for i in range(0, len(docs), docs_per_chunk)
        ]

    def metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "context_type": self.context_type,
            "total_length": self.len_chars(),
            "num_documents": self.num_documents(),
        }
        if self.context_type == "document_list":
            meta["document_lengths"] = self.document_lengths()
            if any(self.names):
                meta["document_names"] = list(self.names)
        return meta

    # -- so `context` behaves like its text where a str is expected ---------------------------
    def __str__(self) -> str:
        return self.text

    def __len__(self) -> int:
        return self.len_chars()

    def __getitem__(self, index: int | slice) -> str:
        return self.text[index]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Context):
            return NotImplemented
        return (self.context_type, self.documents, self.separator) == (
            other.context_type,
            other.documents,
            other.separator,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:  # short: logs and echoes never dump a whole context
        return (
            f"Context({self.context_type}, documents={len(self.documents)}, "
            f"chars={self.len_chars():,})"
        )


def to_wire(value: Any) -> Any:
    """A context as JSON data for a worker: a Context becomes a marked dict."""
    return value.to_data() if isinstance(value, Context) else value


def from_wire(value: Any) -> Any:
    """The inverse of `to_wire`, run in the worker (identity for everything else)."""
    if isinstance(value, dict) and value.get(_WIRE_KEY) == 1 and "documents" in value:
        return Context.from_data(value)
    return value


def _document(item: Any) -> tuple[str | None, str]:
    if isinstance(item, str):
        return None, item
    if isinstance(item, dict) and "content" in item:
        name = item.get("path", item.get("name"))
        return (str(name) if name is not None else None), _as_text(item["content"])
    return None, _as_text(item)


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


def clean_answer(text: Any) -> str | None:
    """A short, one-line answer from a sub-model reply, or None when it carries none
    (empty, NO_ANSWER, an error slot, code, reasoning, several lines, over 80 characters)."""
    if not isinstance(text, str):
        return None
    cleaned = text.strip()
    lowered = cleaned.lower()
    if not cleaned or "```" in cleaned or "<think>" in lowered or cleaned.startswith("Error:"):
        return None
    if lowered.startswith(("answer:", "final:", "result:")):
        cleaned = cleaned.split(":", 1)[1].strip()
    if not cleaned or cleaned.rstrip(".") == NO_ANSWER or "\n" in cleaned or len(cleaned) > 80:
        return None
    return cleaned


def question_prompt(question: str, text: str) -> str:
    return (
        f"{QUESTION_PREFIX} {question}\n"
        f"Answer from the snippet only, briefly. If it is not there, reply {NO_ANSWER}.\n"
        f"{SNIPPET_PREFIX}\n{text}"
    )


def chunk_texts(chunks: Any, chunk_size: int | None, separator: str) -> list[str]:
    """Texts from what the model passes as chunks: a Context, a str, `ctx.chunk(...)` or
    `ctx.chunk_documents(...)` output, or a list of strings."""
    if isinstance(chunks, Context):
        return [c for _, _, c in chunks.chunk(chunk_size or DEFAULT_CHUNK_CHARS)]
    if isinstance(chunks, str):
        if chunk_size:
            return [c for _, _, c in Context.from_text(chunks).chunk(chunk_size)]
        return [chunks]
    out = []
    for item in chunks:
        if isinstance(item, (tuple, list)) and len(item) == 3 and isinstance(item[0], int):
            piece = item[2]
            out.append(
                separator.join(map(_as_text, piece)) if isinstance(piece, list) else _as_text(piece)
            )
        else:
            out.append(_as_text(item))
    return out


def build_helpers(
    context: Any,
    llm_query: Callable[..., str],
    llm_query_batched: Callable[..., list[str]],
) -> dict[str, Any]:
    """Every runtime-layer name for one REPL, over `context` (the REPL's `context`)."""
    ctx = Context.of(context)
    text = ctx.text

    def peek(n: int = 2000) -> str:
        """The first n characters of P."""
        return text[: max(0, n)]

    def tail(n: int = 2000) -> str:
        """The last n characters of P."""
        return text[-n:] if n > 0 else ""

    def lenP() -> int:
        return len(text)

    def extract_after(marker: str, max_len: int = 128) -> str | None:
        """The first word after the first `marker` in P (no model call), or None."""
        i = text.find(marker)
        if i < 0:
            return None
        window = text[i + len(marker) : i + len(marker) + max_len].lstrip()
        if not window:
            return None
        return window.split()[0].strip(" \t\r\n.,;:\"'()[]{}") or None

    def llm_batch(prompts: list[str], model: str | None = None) -> list[str]:
        """Many prompts at once (concurrent, order kept; identical prompts asked once)."""
        if not isinstance(prompts, list):
            raise TypeError(f"llm_batch expects a list of prompts, not {type(prompts).__name__}")
        unique = list(dict.fromkeys(prompts))
        answers = (
            dict(zip(unique, llm_query_batched(unique, model=model), strict=True)) if unique else {}
        )
        return [answers[p] for p in prompts]

    def ask(question: str, text: str, model: str | None = None) -> str:
        """Ask a sub-model `question` about `text` (it sees only that text)."""
        return llm_query(question_prompt(question, _as_text(text)), model=model)

    def ask_chunks(
        question: str,
        chunks: Any,
        parallel: bool | None = None,
        chunk_size: int | None = None,
        model: str | None = None,
    ) -> list[str]:
        """`question` over every chunk; one answer per chunk, in order. Concurrent unless
        parallel=False (sub-calls are bounded by max_concurrent_subcalls either way)."""
        prompts = [
            question_prompt(question, c) for c in chunk_texts(chunks, chunk_size, ctx.separator)
        ]
        if parallel is False:
            asked: dict[str, str] = {}
            for p in prompts:
                if p not in asked:
                    asked[p] = llm_query(p, model=model)
            return [asked[p] for p in prompts]
        return llm_batch(prompts, model=model)

    def ask_chunks_first(
        question: str, chunks: Any, chunk_size: int | None = None, model: str | None = None
    ) -> str | None:
        """Chunk by chunk, in order: the first short answer found (stops asking there)."""
        seen: set[str] = set()
        for piece in chunk_texts(chunks, chunk_size, ctx.separator):
            if piece in seen:
                continue
            seen.add(piece)
            found = clean_answer(llm_query(question_prompt(question, piece), model=model))
            if found is not None:
                return found
        return None

    def pick_first_answer(answers: Any) -> str | None:
        """The first short, real answer in a list of sub-model replies (None if none)."""
        if not isinstance(answers, (list, tuple)):
            return None
        for item in answers:
            found = clean_answer(item)
            if found is not None:
                return found
        return None

    return {
        "ctx": ctx,
        "P": text,
        "peek": peek,
        "tail": tail,
        "lenP": lenP,
        "extract_after": extract_after,
        "ask": ask,
        "ask_chunks": ask_chunks,
        "ask_chunks_first": ask_chunks_first,
        "pick_first_answer": pick_first_answer,
        "llm_batch": llm_batch,
    }
