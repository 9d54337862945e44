"""Vector search on the embedded llama.cpp model (xllamacpp in embedding mode): similar texts
get similar vectors, and a LocalIndex searches by them. Skips without `rlm[local]`."""

from __future__ import annotations

import pytest

from rlm.clients.model_assembly import installed_parts
from rlm.errors import MissingDependencyError
from rlm.retrieval import LocalIndex


@pytest.fixture(scope="module")
def embedder():
    try:
        from rlm.clients import local_model
        from rlm.retrieval.embeddings import LlamaCppEmbedder
    except MissingDependencyError:
        pytest.skip("needs the local model extra: pip install -e '.[local]'")
    for name in ("qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"):
        if installed_parts(local_model.MODELS[name]) is not None:
            return LlamaCppEmbedder(name)
    pytest.skip("no local model installed: pip install -e '.[local]'")


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_llama_cpp_embeddings_drive_vector_search(embedder, tmp_path):
    index = LocalIndex(tmp_path / "v", embedder=embedder)
    index.add(
        [
            {"doc_id": "cat", "content": "The cat slept on the warm windowsill all afternoon."},
            {"doc_id": "bank", "content": "Quarterly revenue at the bank rose by four percent."},
            {"doc_id": "ship", "content": "The container ship docked at the harbour at dawn."},
        ]
    )
    assert index.vector_search("a kitten napping in the sun", 1)[0]["doc_id"] == "cat"
    assert index.vector_search("profits and earnings of a lender", 1)[0]["doc_id"] == "bank"
    assert index.hybrid_search("ship harbour", 1)[0]["doc_id"] == "ship"
