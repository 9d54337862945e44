"""Embedding clients for vector search: anything with `embed(texts) -> list[list[float]]`.

- `OpenAIEmbedder`: the `/embeddings` endpoint through the official `openai` SDK, so it also
  serves every OpenAI-compatible server (vLLM, Ollama, LM Studio, llama.cpp's server, ...)
  via `base_url`. Requests are batched; the test guard (RLM_BLOCK_REAL_REQUESTS) applies.
- `LlamaCppEmbedder`: the embedded llama.cpp (`xllamacpp`, the `local` extra) in embedding
  mode over a GGUF model (by default the installed Qwen2.5-Coder; any GGUF embedding model
  via `model_path`). No network, no key.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

from rlm.clients.guard import check_request
from rlm.errors import MissingDependencyError
from rlm.retrieval.protocol import RetrievalError

__all__ = ["LlamaCppEmbedder", "OpenAIEmbedder"]


class OpenAIEmbedder:
    """`OpenAIEmbedder("text-embedding-3-small")`; `base_url=` for compatible servers;
    `api_key=` or OPENAI_API_KEY; `dimensions=` where the model supports shortening."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        dimensions: int | None = None,
        batch_size: int = 256,
        client: Any = None,
        **client_kwargs: Any,
    ):
        self.model = model
        self.dimensions = dimensions
        self.batch_size = batch_size
        if client is None:
            try:
                from openai import OpenAI
            except ImportError as exc:
                raise MissingDependencyError("OpenAIEmbedder", "openai", "openai") from exc
            key = api_key or os.environ.get("OPENAI_API_KEY")
            if key is None and base_url is None:
                raise RetrievalError(
                    "OpenAIEmbedder needs an API key: set OPENAI_API_KEY or pass api_key= "
                    "(or base_url= for a local OpenAI-compatible server)"
                )
            client = OpenAI(api_key=key or "unused", base_url=base_url, **client_kwargs)
        self.client = client

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        check_request("embeddings", self.model, str(self.client.base_url))
        out: list[list[float]] = []
        extra = {"dimensions": self.dimensions} if self.dimensions else {}
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            try:
                response = self.client.embeddings.create(model=self.model, input=batch, **extra)
            except Exception as exc:  # the SDK's errors, turned into one that says what failed
                raise RetrievalError(
                    f"embedding {len(batch)} texts with {self.model!r} at "
                    f"{self.client.base_url} failed: {type(exc).__name__}: {exc}"
                ) from exc
            rows = sorted(response.data, key=lambda d: d.index)
            if len(rows) != len(batch):
                raise RetrievalError(
                    f"the embedding endpoint returned {len(rows)} vectors for {len(batch)} texts"
                )
            out.extend(list(r.embedding) for r in rows)
        return out


class LlamaCppEmbedder:
    """Embeddings from the embedded llama.cpp, mean-pooled over the model's last layer.

    A generative model such as the default Qwen2.5-Coder gives usable but weak embeddings;
    for real semantic search pass `model_path=` a GGUF embedding model (e.g. a BGE or
    nomic-embed conversion)."""

    def __init__(
        self,
        model: str | None = None,
        *,
        model_path: str | os.PathLike[str] | None = None,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        max_chars: int = 4_000,
    ):
        try:
            import xllamacpp
        except ImportError as exc:
            raise MissingDependencyError("LlamaCppEmbedder", "local", "xllamacpp") from exc
        from rlm.clients.local_model import default_threads, resolve_model

        _name, path = resolve_model(model, model_path)
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.embedding = True
        params.pooling_type = xllamacpp.llama_pooling_type.LLAMA_POOLING_TYPE_MEAN
        params.n_ctx = n_ctx
        params.n_batch = params.n_ubatch = n_ctx  # a whole input is one batch (needed to pool)
        params.cpuparams.n_threads = n_threads or default_threads()
        params.cpuparams_batch.n_threads = n_threads or default_threads()
        params.warmup = False
        params.verbosity = -1
        self.model_name = path.name
        self.max_chars = max_chars
        self._server = xllamacpp.Server(params)
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        # Inputs are cut to max_chars so each fits the context (about 4 chars a token).
        inputs = [t[: self.max_chars] or " " for t in texts]
        with self._lock:
            result = self._server.handle_embeddings({"input": inputs, "model": self.model_name})
        if not isinstance(result, dict) or "data" not in result:
            raise RetrievalError(f"llama.cpp embedding failed: {result}")
        rows = sorted(result["data"], key=lambda d: d["index"])
        return [list(r["embedding"]) for r in rows]
