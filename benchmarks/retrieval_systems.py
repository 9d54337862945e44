"""One retrieval system per class, each measured in fresh processes: `build(docs, dir)`
(timed; the index is saved under `dir`), then `open(dir)` and `query(q)` in another process.

- ours: rlm.retrieval.LocalIndex (tantivy on disk)
- bm25s: in-memory sparse BM25 (its own tokenizer), saved/loaded with its save/load
- rank-bm25: BM25Okapi, pure Python/numpy, no on-disk format (built and queried in one process)
- sqlite-fts5: an FTS5 table ranked by bm25(), the other embedded on-disk candidate
"""

from __future__ import annotations

import pickle
import sqlite3
from pathlib import Path
from typing import Any


class Ours:
    name = "ours (tantivy)"

    def load(self) -> None:
        import rlm.retrieval.local_index  # noqa: F401

    def build(self, docs: list[str], path: Path) -> None:
        from rlm.retrieval import LocalIndex

        index = LocalIndex(path / "idx")
        index.build(
            ({"doc_id": str(i), "content": d} for i, d in enumerate(docs)), batch_size=50_000
        )
        index.close()

    def open(self, path: Path) -> Any:
        from rlm.retrieval import LocalIndex

        self.index = LocalIndex(path / "idx", create=False)
        self.index.num_docs  # noqa: B018 - opens the searcher
        return self.index

    def query(self, q: str) -> list[str]:
        return [h["doc_id"] for h in self.index.search(q, 10)]


class Bm25s:
    name = "bm25s"

    def load(self) -> None:
        import bm25s  # noqa: F401

    def build(self, docs: list[str], path: Path) -> None:
        import bm25s

        retriever = bm25s.BM25()
        retriever.index(bm25s.tokenize(docs, show_progress=False), show_progress=False)
        self.saved = retriever
        retriever.save(str(path / "bm25s"))

    def open(self, path: Path) -> Any:
        import bm25s

        self.bm25s = bm25s
        self.retriever = bm25s.BM25.load(str(path / "bm25s"))
        return self.retriever

    def query(self, q: str) -> list[str]:
        tokens = self.bm25s.tokenize([q], show_progress=False)
        k = min(10, self.retriever.scores["num_docs"])
        ids, _ = self.retriever.retrieve(tokens, k=k, show_progress=False)
        return [str(i) for i in ids[0]]


class RankBm25:
    name = "rank-bm25"
    in_memory_only = True

    def load(self) -> None:
        pass

    def build(self, docs: list[str], path: Path) -> None:
        from rank_bm25 import BM25Okapi

        self.bm25 = BM25Okapi([d.split() for d in docs])
        with open(path / "rank_bm25.pkl", "wb") as out:  # size only; it has no index format
            pickle.dump(self.bm25, out)

    def open(self, path: Path) -> Any:
        return self.bm25

    def query(self, q: str) -> list[str]:
        import numpy as np

        scores = self.bm25.get_scores(q.split())
        return [str(i) for i in np.argsort(-scores)[:10]]


class Fts5:
    name = "sqlite-fts5"

    def load(self) -> None:
        pass

    def build(self, docs: list[str], path: Path) -> None:
        conn = sqlite3.connect(path / "fts.db")
        conn.execute("CREATE VIRTUAL TABLE d USING fts5(body)")
        conn.executemany("INSERT INTO d(rowid, body) VALUES (?, ?)", enumerate(docs))
        conn.execute("INSERT INTO d(d) VALUES ('optimize')")
        conn.commit()
        conn.close()

    def open(self, path: Path) -> Any:
        self.conn = sqlite3.connect(path / "fts.db")
        self.conn.execute("SELECT rowid FROM d LIMIT 1").fetchall()
        return self.conn

    def query(self, q: str) -> list[str]:
        match = " OR ".join(f'"{w}"' for w in q.split())
        rows = self.conn.execute(
            "SELECT rowid FROM d WHERE d MATCH ? ORDER BY rank LIMIT 10", (match,)
        ).fetchall()
        return [str(r[0]) for r in rows]


SYSTEMS = {"ours": Ours, "bm25s": Bm25s, "rank-bm25": RankBm25, "sqlite-fts5": Fts5}
