"""Document vectors of a `LocalIndex`: an append-only float32 file, searched exactly.

Rows are L2-normalised on write, so the dot product is the cosine similarity. A search
memory-maps the file and scans it in chunks, keeping only the running top k, so memory stays
bounded by the chunk size whatever the corpus size (time grows linearly: about 1 s per
million 384-dimensional rows on one core; use Elasticsearch/OpenSearch for approximate
search over larger vector sets).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rlm.errors import MissingDependencyError
from rlm.retrieval.protocol import RetrievalError

try:
    import numpy as np
except ImportError as exc:
    raise MissingDependencyError("vector search in LocalIndex", "retrieval", "numpy") from exc

CHUNK_ROWS = 65_536


class VectorStore:
    def __init__(self, directory: Path, dim: int):
        self.data_path = directory / "vectors.f32"
        self.meta_path = directory / "vectors.json"
        if self.meta_path.exists():
            stored = json.loads(self.meta_path.read_text())["dim"]
            if stored != dim:
                raise RetrievalError(
                    f"the index's vectors have {stored} dimensions, the embedder gives {dim}: "
                    "use the embedder the index was built with"
                )
        else:
            self.meta_path.write_text(json.dumps({"dim": dim}))
        self.dim = dim
        self._file: Any = None

    @classmethod
    def open(cls, directory: Path) -> VectorStore | None:
        meta = directory / "vectors.json"
        if not meta.exists():
            return None
        return cls(directory, int(json.loads(meta.read_text())["dim"]))

    @property
    def rows(self) -> int:
        try:
            return self.data_path.stat().st_size // (4 * self.dim)
        except FileNotFoundError:
            return 0

    def append(self, vectors: list[list[float]]) -> int:
        """Write rows; returns the row number of the first."""
        matrix = np.asarray(vectors, dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape[1] != self.dim:
            raise RetrievalError(f"expected vectors of {self.dim} dimensions, got {matrix.shape}")
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        matrix = matrix / np.where(norms == 0, 1, norms)
        if self._file is None:
            self._file = open(self.data_path, "ab")  # noqa: SIM115 - kept open across adds
        start = self._file.tell() // (4 * self.dim)
        self._file.write(matrix.tobytes())
        return start

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def nearest(self, query: list[float], k: int) -> list[tuple[int, float]]:
        """(row, cosine) of the k most similar rows, best first."""
        rows = self.rows
        if rows == 0:
            return []
        q = np.asarray(query, dtype=np.float32)
        q = q / (np.linalg.norm(q) or 1.0)
        data = np.memmap(self.data_path, dtype=np.float32, mode="r", shape=(rows, self.dim))
        best_rows = np.empty(0, dtype=np.int64)
        best_scores = np.empty(0, dtype=np.float32)
        for start in range(0, rows, CHUNK_ROWS):
            scores = data[start : start + CHUNK_ROWS] @ q
            take = min(k, len(scores))
            top = np.argpartition(-scores, take - 1)[:take]
            best_rows = np.concatenate([best_rows, top + start])
            best_scores = np.concatenate([best_scores, scores[top]])
            if len(best_rows) > k:
                keep = np.argpartition(-best_scores, k - 1)[:k]
                best_rows, best_scores = best_rows[keep], best_scores[keep]
        order = np.argsort(-best_scores, kind="stable")
        return [(int(best_rows[i]), float(best_scores[i])) for i in order]

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
