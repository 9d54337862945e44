"""`LocalIndex`: the embedded default retriever. No server: a directory on disk.

The engine is tantivy (Rust, via its official Python bindings), chosen by measurement
(docs/retrieval.md, `python -m benchmarks retrieval`): BM25 with block-max WAND top-k, so a
query touches a few posting blocks instead of scoring every match (SQLite FTS5 ranks every
match and was 100x slower per query at 100k documents); segments are memory-mapped, so
opening takes milliseconds and a reader's memory does not grow with the corpus; commits are
atomic, so any number of reader processes can search while one writer adds documents.

    index = LocalIndex("corpus.idx")
    index.add([{"doc_id": "a", "content": "...", "metadata": {"lang": "en"}}, "plain text"])
    index.search("liability clause", top_k=5, filters={"lang": "en"})
    index.get("a")

Vector search needs an `embedder` (see `rlm.retrieval.embeddings`): document vectors are
then stored beside the index (`vectors.f32`) and searched exactly, a chunk at a time.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from rlm.errors import MissingDependencyError
from rlm.retrieval.fusion import reciprocal_rank_fusion
from rlm.retrieval.protocol import (
    PREVIEW_CHARS,
    DocInput,
    Document,
    Filters,
    Hit,
    RetrievalError,
    check_filters,
    check_top_k,
    make_preview,
    normalize_doc,
)
from rlm.retrieval.tantivy_query import filter_clauses

try:
    import tantivy
except ImportError as exc:
    raise MissingDependencyError("rlm.retrieval.LocalIndex", "retrieval", "tantivy") from exc

__all__ = ["LocalIndex"]

log = logging.getLogger("rlm.retrieval")
TOKENIZERS = ("default", "en_stem")


def _schema(tokenizer: str) -> Any:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("doc_id", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("content", stored=True, tokenizer_name=tokenizer)
    builder.add_json_field("metadata", stored=True, tokenizer_name="raw", fast=True)
    builder.add_integer_field("vec_row", stored=True, indexed=True)
    return builder.build()


class LocalIndex:
    """An on-disk BM25 index (tantivy) implementing the `Retriever` protocol."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        create: bool = True,
        tokenizer: str = "default",
        embedder: Any = None,
        preview_chars: int = PREVIEW_CHARS,
        writer_memory_mb: int = 256,
        writer_threads: int = 0,
    ):
        if tokenizer not in TOKENIZERS:
            raise RetrievalError(f"tokenizer must be one of {TOKENIZERS}, not {tokenizer!r}")
        self.path = Path(path).expanduser()
        self.embedder = embedder
        self.preview_chars = preview_chars
        self._writer_memory = writer_memory_mb * 1_000_000
        self._writer_threads = writer_threads
        self._writer: Any = None
        self._lock = threading.Lock()
        self._vectors: Any = None
        if (self.path / "meta.json").exists():
            self._index = tantivy.Index.open(str(self.path))
        elif create:
            self.path.mkdir(parents=True, exist_ok=True)
            self._index = tantivy.Index(_schema(tokenizer), path=str(self.path))
        else:
            raise RetrievalError(
                f"no index at {self.path}: build one with `rlm index build DIR --index "
                f"{self.path}` or LocalIndex(path).add(docs)"
            )
        self._schema = self._index.schema
        self._meta_mtime = self._meta_stamp()

    # -- writing ----------------------------------------------------------------------------
    def add(self, docs: Iterable[DocInput], *, commit: bool = True) -> int:
        """Add (or replace, by doc_id) documents; returns how many. With `commit=False` they
        become visible at the next `commit()`."""
        batch = [normalize_doc(d) for d in docs]
        with self._lock:
            writer = self._writer_or_open()
            rows = self._embed_rows(batch)
            for i, (doc_id, content, metadata) in enumerate(batch):
                writer.delete_documents_by_term("doc_id", doc_id)
                document = tantivy.Document(doc_id=doc_id, content=content, metadata=metadata)
                document.add_integer("vec_row", rows[i] if rows is not None else -1)
                writer.add_document(document)
            if commit:
                self._commit_locked()
        return len(batch)

    def build(
        self,
        docs: Iterable[DocInput],
        *,
        batch_size: int = 10_000,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Add a stream of documents, committing every `batch_size` (so an interrupted build
        keeps what it committed); `progress(n)` is called after each commit with the number
        added so far."""
        total = 0
        batch: list[DocInput] = []
        for doc in docs:
            batch.append(doc)
            if len(batch) >= batch_size:
                total += self.add(batch)
                batch = []
                if progress:
                    progress(total)
        if batch:
            total += self.add(batch)
            if progress:
                progress(total)
        self.wait_merges()
        return total

    def delete(self, filters: Filters) -> None:
        """Delete (at once, committed) every document whose metadata matches `filters`."""
        filters = check_filters(filters)
        if not filters:
            raise RetrievalError("delete needs filters; to start over, remove the directory")
        clauses = filter_clauses(tantivy, self._index, filters)
        with self._lock:
            self._writer_or_open().delete_documents_by_query(tantivy.Query.boolean_query(clauses))
            self._commit_locked()

    def commit(self) -> None:
        with self._lock:
            self._commit_locked()

    def wait_merges(self) -> None:
        """Finish background segment merges and release the writer (fewer segments open
        faster and search faster)."""
        with self._lock:
            if self._writer is not None:
                self._writer.commit()
                self._writer.wait_merging_threads()
                self._writer = None
            self._reload()

    def _writer_or_open(self) -> Any:
        if self._writer is None:
            try:
                self._writer = self._index.writer(self._writer_memory, self._writer_threads)
            except ValueError as exc:
                raise RetrievalError(
                    f"cannot write to the index at {self.path} ({exc}); another process is "
                    "writing it: wait for it to finish (readers need no lock)"
                ) from exc
        return self._writer

    def _commit_locked(self) -> None:
        if self._writer is not None:
            self._writer.commit()
        if self._vectors is not None:
            self._vectors.flush()
        self._reload()

    def _embed_rows(self, batch: list[tuple[str, str, dict[str, Any]]]) -> list[int] | None:
        if self.embedder is None or not batch:
            return None
        from rlm.retrieval.vectors import VectorStore

        vectors = self.embedder.embed([content for _, content, _ in batch])
        if self._vectors is None:
            self._vectors = VectorStore(self.path, len(vectors[0]))
        start = self._vectors.append(vectors)
        return list(range(start, start + len(batch)))

    # -- reading ----------------------------------------------------------------------------
    @property
    def num_docs(self) -> int:
        return int(self._searcher().num_docs)

    def search(self, query: str, top_k: int = 10, filters: Filters | None = None) -> list[Hit]:
        top_k, filters = check_top_k(top_k), check_filters(filters)
        if not isinstance(query, str) or not query.strip():
            raise RetrievalError("query must be a non-empty string")
        parsed, errors = self._index.parse_query_lenient(query, ["content"])
        if errors:
            log.debug("query %r parsed leniently: %s", query, errors)
        clauses = filter_clauses(tantivy, self._index, filters)
        if clauses:
            parsed = tantivy.Query.boolean_query([(tantivy.Occur.Must, parsed), *clauses])
        searcher = self._searcher()
        result = searcher.search(parsed, top_k, count=False)
        return [self._hit(searcher.doc(address), score) for score, address in result.hits]

    def vector_search(
        self, query: str, top_k: int = 10, filters: Filters | None = None
    ) -> list[Hit]:
        top_k, filters = check_top_k(top_k), check_filters(filters)
        if self.embedder is None:
            raise RetrievalError(
                "vector search needs an embedder: LocalIndex(path, embedder=OpenAIEmbedder(...)"
                " or LlamaCppEmbedder()), and documents added with it"
            )
        store = self._vector_store()
        if store is None:
            return []
        (qvec,) = self.embedder.embed([query])
        hits: list[Hit] = []
        # Over-fetch, then drop rows whose document was replaced or fails the filters.
        for row, score in store.nearest(qvec, top_k * 4 + 16):
            doc = self._doc_by_row(row, filters)
            if doc is not None:
                hits.append(self._hit(doc, score))
                if len(hits) == top_k:
                    break
        return hits

    def hybrid_search(
        self, query: str, top_k: int = 10, filters: Filters | None = None
    ) -> list[Hit]:
        """BM25 and vector results fused by reciprocal rank (k = 60); BM25 alone when the
        index has no embedder."""
        pool = max(top_k * 2, 20)
        keyword = self.search(query, pool, filters)
        if self.embedder is None:
            return keyword[:top_k]
        return reciprocal_rank_fusion([keyword, self.vector_search(query, pool, filters)], top_k)

    def get(self, doc_id: str) -> Document:
        searcher = self._searcher()
        found = searcher.search(
            tantivy.Query.term_query(self._schema, "doc_id", str(doc_id)), 1, count=False
        ).hits
        if not found:
            raise RetrievalError(
                f"no document {doc_id!r} in {self.path}; use a doc_id a search returned"
            )
        fields = searcher.doc(found[0][1]).to_dict()
        return {
            "doc_id": fields["doc_id"][0],
            "content": fields["content"][0],
            "metadata": (fields.get("metadata") or [{}])[0],
        }

    def close(self) -> None:
        with self._lock:
            if self._writer is not None:
                self._writer.commit()
                self._writer.wait_merging_threads()
                self._writer = None
            if self._vectors is not None:
                self._vectors.close()

    def __enter__(self) -> LocalIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals --------------------------------------------------------------------------
    def _meta_stamp(self) -> float:
        try:
            return (self.path / "meta.json").stat().st_mtime_ns
        except OSError:
            return 0

    def _reload(self) -> None:
        self._index.reload()
        self._meta_mtime = self._meta_stamp()

    def _searcher(self) -> Any:
        # Another process may have committed: pick its segments up (a stat per query).
        if self._meta_stamp() != self._meta_mtime:
            self._reload()
        return self._index.searcher()

    def _hit(self, doc: Any, score: float) -> Hit:
        fields = doc.to_dict()
        return {
            "doc_id": fields["doc_id"][0],
            "preview": make_preview(fields["content"][0], self.preview_chars),
            "score": float(score),
            "metadata": (fields.get("metadata") or [{}])[0],
        }

    def _vector_store(self) -> Any:
        if self._vectors is None:
            from rlm.retrieval.vectors import VectorStore

            self._vectors = VectorStore.open(self.path)
        return self._vectors

    def _doc_by_row(self, row: int, filters: Filters) -> Any:
        query = tantivy.Query.term_query(self._schema, "vec_row", row)
        clauses = filter_clauses(tantivy, self._index, filters)
        if clauses:
            query = tantivy.Query.boolean_query([(tantivy.Occur.Must, query), *clauses])
        searcher = self._searcher()
        found = searcher.search(query, 1, count=False).hits
        return searcher.doc(found[0][1]) if found else None
