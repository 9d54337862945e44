"""A loopback HTTP server speaking the Elasticsearch / OpenSearch REST subset our retrievers
use, so the official clients are tested for real (as tests/fake_providers.py does for model
providers).

It keeps documents in memory and evaluates the query DSL it receives: `bool` (must, filter,
should, must_not), `match` scored by BM25 (k1 = 1.2, b = 0.75), `term`, `terms`, `range`,
`exists`, `prefix`, Elasticsearch's top-level `knn` and OpenSearch's `knn` query (exact
cosine). Endpoints: GET/HEAD /, PUT and HEAD /{index}, POST /_bulk (NDJSON), GET
/{index}/_doc/{id}, POST /{index}/_search. Every request is logged for assertions.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from loopback import LoopbackServer

TOKEN = re.compile(r"\w+")


def tokens(text: str) -> list[str]:
    return TOKEN.findall(str(text).lower())


class SearchEngineState:
    def __init__(self, product: str):
        self.product = product  # "Elasticsearch" or "OpenSearch"
        self.indices: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, Any]] = []
        self.lock = threading.Lock()

    # -- documents ----------------------------------------------------------------------------
    def bulk(self, lines: list[dict[str, Any]]) -> dict[str, Any]:
        items = []
        for action, source in zip(lines[::2], lines[1::2], strict=True):
            meta = action["index"]
            docs = self.indices.setdefault(meta["_index"], {"docs": {}, "mappings": {}})["docs"]
            docs[str(meta["_id"])] = source
            items.append({"index": {"_id": meta["_id"], "status": 201, "result": "created"}})
        return {"took": 1, "errors": False, "items": items}

    # -- search -------------------------------------------------------------------------------
    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        docs = self.indices[index]["docs"]
        size = body.get("size", 10)
        excludes = set((body.get("_source") or {}).get("excludes", []))
        if "knn" in body:  # Elasticsearch's top-level kNN section
            knn = body["knn"]
            scored = self._knn(docs, knn["field"], knn["query_vector"], knn["k"], knn.get("filter"))
        else:
            scored = [
                (doc_id, score)
                for doc_id, source in docs.items()
                if (score := self._eval(body.get("query", {"match_all": {}}), source, docs))
                is not None
            ]
        scored.sort(key=lambda p: -p[1])
        hits = [
            {
                "_index": index,
                "_id": doc_id,
                "_score": score,
                "_source": {k: v for k, v in docs[doc_id].items() if k not in excludes},
            }
            for doc_id, score in scored[:size]
        ]
        return {
            "took": 1,
            "timed_out": False,
            "hits": {"total": {"value": len(scored)}, "hits": hits},
        }

    def _knn(self, docs, field, vector, k, filter_) -> list[tuple[str, float]]:
        out = []
        for doc_id, source in docs.items():
            if field not in source or (filter_ and self._eval(filter_, source, docs) is None):
                continue
            out.append((doc_id, (1 + _cosine(vector, source[field])) / 2))
        out.sort(key=lambda p: -p[1])
        return out[:k]

    def _eval(self, query: dict[str, Any], source: dict[str, Any], docs) -> float | None:
        """The score of `source` under `query`, or None when it does not match."""
        ((kind, arg),) = query.items()
        if kind == "match_all":
            return 1.0
        if kind == "bool":
            score = 0.0
            for clause in arg.get("must", []):
                s = self._eval(clause, source, docs)
                if s is None:
                    return None
                score += s
            for clause in arg.get("filter", []):
                if self._eval(clause, source, docs) is None:
                    return None
            for clause in arg.get("must_not", []):
                if self._eval(clause, source, docs) is not None:
                    return None
            return score
        if kind == "match":
            ((field, text),) = arg.items()
            return self._bm25(field, tokens(text), source, docs)
        if kind == "knn":  # OpenSearch's k-NN query: matches its k nearest documents
            ((field, spec),) = arg.items()
            nearest = dict(self._knn(docs, field, spec["vector"], spec["k"], spec.get("filter")))
            return nearest.get(next(i for i, s in docs.items() if s is source))
        ((field, value),) = arg.items() if kind != "exists" else [(arg["field"], None)]
        present = field in source
        have = source.get(field)
        if kind == "term":
            return 0.0 if present and have == value else None
        if kind == "terms":
            return 0.0 if present and have in value else None
        if kind == "exists":
            return 0.0 if present else None
        if kind == "prefix":
            return 0.0 if isinstance(have, str) and have.startswith(value) else None
        if kind == "range":
            ok = present and all(
                {"gte": have >= v, "gt": have > v, "lte": have <= v, "lt": have < v}[op]
                for op, v in value.items()
            )
            return 0.0 if ok else None
        raise ValueError(f"query kind {kind!r} not in the fake's subset")

    @staticmethod
    def _bm25(field: str, terms: list[str], source: dict[str, Any], docs) -> float | None:
        words = tokens(source.get(field, ""))
        if not any(t in words for t in terms):
            return None
        lengths = [len(tokens(d.get(field, ""))) for d in docs.values()]
        avg = sum(lengths) / len(lengths)
        counts = Counter(words)
        score = 0.0
        for t in terms:
            df = sum(1 for d in docs.values() if t in tokens(d.get(field, "")))
            idf = math.log(1 + (len(docs) - df + 0.5) / (df + 0.5))
            tf = counts[t]
            score += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * len(words) / avg))
        return score


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na = math.sqrt(sum(x * x for x in a)) or 1.0
    nb = math.sqrt(sum(x * x for x in b)) or 1.0
    return dot / (na * nb)


class FakeSearchEngine(LoopbackServer):
    """`with FakeSearchEngine("Elasticsearch") as es: es.url`."""

    def __init__(self, product: str = "Elasticsearch"):
        state = self.state = SearchEngineState(product)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _body(self) -> Any:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                if not raw:
                    return None
                if b"\n" in raw.strip():  # NDJSON (bulk)
                    return [json.loads(line) for line in raw.splitlines() if line.strip()]
                return json.loads(raw)

            def _send(self, status: int, body: Any) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                if state.product == "Elasticsearch":
                    self.send_header("x-elastic-product", "Elasticsearch")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            def _route(self) -> None:
                path = urlsplit(self.path).path
                body = self._body()
                parts = [p for p in path.split("/") if p]
                with state.lock:
                    state.requests.append((self.command, path, body))
                    self._dispatch(parts, body)

            def _dispatch(self, parts: list[str], body: Any) -> None:
                if not parts:
                    dist = (
                        {} if state.product == "Elasticsearch" else {"distribution": "opensearch"}
                    )
                    return self._send(
                        200, {"version": {"number": "9.0.0", **dist}, "tagline": "fake"}
                    )
                if parts == ["_bulk"]:
                    lines = body if isinstance(body, list) else [body]
                    return self._send(200, state.bulk(lines))
                index = parts[0]
                if len(parts) == 1 and self.command == "PUT":
                    state.indices[index] = {"docs": {}, "mappings": body or {}}
                    return self._send(200, {"acknowledged": True, "index": index})
                if index not in state.indices:
                    return self._send(
                        404,
                        {
                            "error": {
                                "type": "index_not_found_exception",
                                "reason": f"no such index [{index}]",
                            },
                            "status": 404,
                        },
                    )
                if len(parts) == 1:
                    return self._send(200, {})
                if parts[1] == "_search":
                    return self._send(200, state.search(index, body or {}))
                if parts[1] == "_doc" and len(parts) == 3:
                    source = state.indices[index]["docs"].get(parts[2])
                    if source is None:
                        return self._send(404, {"_index": index, "_id": parts[2], "found": False})
                    return self._send(
                        200, {"_index": index, "_id": parts[2], "found": True, "_source": source}
                    )
                return self._send(400, {"error": f"unsupported {self.command} {parts}"})

            do_GET = do_POST = do_PUT = do_HEAD = _route

        self._serve(Handler)

    def __enter__(self) -> FakeSearchEngine:
        return self
