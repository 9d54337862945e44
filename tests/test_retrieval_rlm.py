"""RLM(retriever=...): es_search / es_get reach model code through the broker in the default
sandbox, which never opens the index itself; the prompt names them; context may be omitted.

The big test indexes 100,000 generated documents once per session (a few seconds) and has a
function-backend model find the one document that holds the answer."""

from __future__ import annotations

import random
import re

import pytest

from fake_search_engine import FakeSearchEngine
from rlm import RLM
from rlm.errors import ConfigurationError
from rlm.retrieval import ElasticsearchRetriever, LocalIndex

N_DOCS = 100_000
ANSWER = "7431-QX"
WORDS = ['report', 'quarterly', 'market', 'river', 'station', 'harbour', 'engine', 'ledger', 'meeting', 'council', 'bridge', 'garden', 'museum', 'archive', 'shipment', 'invoice', 'policy', 'tender', 'budget', 'survey', 'orchard', 'kiln']  # fmt: skip


@pytest.fixture(scope="session")
def big_index(tmp_path_factory):
    path = tmp_path_factory.mktemp("retrieval") / "idx"
    rng = random.Random(7)
    needle = rng.randrange(N_DOCS)

    def docs():
        for i in range(N_DOCS):
            if i == needle:
                text = f"Memo {i}: the vault access code for project Bluefin is {ANSWER}."
            else:
                text = f"Memo {i}: " + " ".join(rng.choices(WORDS, k=12))
            yield {"doc_id": f"memo-{i}", "content": text, "metadata": {"n": i}}

    index = LocalIndex(path)
    assert index.build(docs(), batch_size=50_000) == N_DOCS
    index.close()
    return path, f"memo-{needle}"


def searcher_model(index_path):
    """Plays the root model: search, read the top hit, try to open the index directly (the
    sandbox must refuse), then answer with the code it read."""
    seen = {}

    def model(messages):
        seen.setdefault("system", messages[0]["content"])
        last = messages[-1]["content"]
        if len(messages) == 2:
            return (
                "```repl\n"
                'hits = es_search("vault access code Bluefin", top_k=3)\n'
                'print("TOP", hits[0]["doc_id"], round(hits[0]["score"], 2))\n'
                'doc = es_get(hits[0]["doc_id"])\n'
                'print("DOC", doc["content"])\n'
                "try:\n"
                f"    open({str(index_path / 'meta.json')!r}).read()\n"
                '    print("INDEX OPENED")\n'
                "except OSError as exc:\n"
                '    print("INDEX REFUSED", type(exc).__name__)\n'
                "```"
            )
        seen["output"] = last
        code = re.search(r"code for project Bluefin is (\S+)\.", last)
        return f"FINAL({code.group(1) if code else 'not found'})"

    return model, seen


def test_sandboxed_rlm_answers_from_one_document_in_100k(big_index):
    path, needle_id = big_index
    index = LocalIndex(path, create=False)
    assert index.num_docs == N_DOCS
    model, seen = searcher_model(path)
    rlm = RLM(backend="function", backend_kwargs={"function": model}, retriever=index)
    assert rlm.config.environment == "sandbox"
    result = rlm.completion(root_prompt="What is the vault access code for project Bluefin?")
    assert result.response == ANSWER
    assert f"TOP {needle_id}" in seen["output"]
    assert "INDEX REFUSED" in seen["output"] and "INDEX OPENED" not in seen["output"]
    for name in ("es_search", "es_vector_search", "es_hybrid_search", "es_get"):
        assert f"`{name}`" in seen["system"]
    assert "A search index holds the documents" in seen["system"]


def test_every_environment_gets_the_same_json_from_an_elasticsearch_retriever():
    def model(messages):
        if len(messages) == 2:
            return (
                "```repl\n"
                'hits = es_search("lease", top_k=1, filters={"lang": "en"})\n'
                'print(type(hits).__name__, sorted(hits[0]), hits[0]["metadata"])\n'
                "try:\n"
                '    es_get("missing")\n'
                "except Exception as exc:\n"
                '    print("ERR", exc)\n'
                "```"
            )
        return "FINAL(" + messages[-1]["content"].split("REPL output:\n", 1)[1].split("\n")[0] + ")"

    with FakeSearchEngine("Elasticsearch") as server:
        es = ElasticsearchRetriever(server.url, index="docs")
        es.create_index()
        es.add([{"doc_id": "a", "content": "a lease", "metadata": {"lang": "en"}}])
        answers = {}
        for env in ("local", "sandbox"):
            rlm = RLM(
                backend="function",
                backend_kwargs={"function": model},
                environment=env,
                retriever=es,
            )
            answers[env] = rlm.completion(root_prompt="find the lease").response
    assert answers["local"] == answers["sandbox"]
    assert answers["local"] == "list ['doc_id', 'metadata', 'preview', 'score'] {'lang': 'en'}"


def test_configuration_errors(tmp_path):
    index = LocalIndex(tmp_path / "i")
    with pytest.raises(ConfigurationError, match="clash with the retriever"):
        RLM(backend="scripted", backend_kwargs={"responses": []}, retriever=index,
            custom_tools={"es_get": len})  # fmt: skip
    rlm = RLM(backend="scripted", backend_kwargs={"responses": ["FINAL(1)"]})
    with pytest.raises(ConfigurationError, match="needs a context"):
        rlm.completion(root_prompt="question only")
    with pytest.raises(ConfigurationError, match="not a retriever"):
        RLM(backend="scripted", backend_kwargs={"responses": []}, retriever=object())
