"""The persistent response cache: across client instances, threads and processes."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from fake_providers import (
    Reply,
    offline,
    openai_completion,
    serve,
)
from rlm.clients.cache import CachedLM, ResponseCache
from rlm.clients.offline import FunctionLM


@pytest.fixture
def fake():
    yield from serve()


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    offline(monkeypatch)


def openai_client(fake, path, **kwargs):
    pytest.importorskip("openai", reason="needs the 'openai' extra")
    from rlm.clients import get_client

    return get_client(
        "openai",
        {
            "model_name": "gpt-4o-mini",
            "api_key": "k",
            "base_url": fake.url + "/v1",
            "cache": str(path),
            **kwargs,
        },
    )


def test_hit_across_two_client_instances_costs_nothing_and_is_counted(fake, tmp_path):
    fake.default = lambda r: Reply(body=openai_completion("cached answer", 1000, 50))
    path = tmp_path / "cache.sqlite"
    first = openai_client(fake, path).complete("same question", temperature=0)
    second_client = openai_client(fake, path)
    second = second_client.complete("same question", temperature=0)

    assert len(fake.requests) == 1
    assert second.text == first.text == "cached answer"
    assert first.usage.cached is False
    assert first.usage.cost == pytest.approx((1000 * 0.15 + 50 * 0.60) / 1e6)
    assert second.usage.cached is True
    assert second.usage.cost == 0.0  # nothing new was spent
    assert (second.usage.input_tokens, second.usage.output_tokens) == (1000, 50)
    summary = second_client.get_usage_summary()
    assert summary.cache_hits == 1
    assert summary.total_cost == 0.0


def test_key_covers_messages_and_sampling(fake, tmp_path):
    fake.default = lambda r: Reply(body=openai_completion(f"n={len(fake.requests)}"))
    client = openai_client(fake, tmp_path / "c.sqlite")
    client.complete("q", temperature=0)
    client.complete("q", temperature=0.5)  # different sampling: miss
    client.complete("q2", temperature=0)  # different prompt: miss
    client.complete("q", temperature=0)  # hit
    # aliases normalise: max_output_tokens is max_tokens
    client.complete("q", max_tokens=5)
    client.complete("q", max_output_tokens=5)
    assert len(fake.requests) == 4


def test_hits_from_many_threads(fake, tmp_path):
    fake.default = lambda r: Reply(
        body=openai_completion("answer to " + r.body["messages"][0]["content"], 10, 2)
    )
    path = tmp_path / "c.sqlite"
    client = openai_client(fake, path)
    prompts = [f"p{i % 8}" for i in range(64)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        warm = list(pool.map(client.complete, [f"p{i}" for i in range(8)]))
    assert len(fake.requests) == 8
    other = openai_client(fake, path)
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(other.complete, prompts))
    assert len(fake.requests) == 8  # every one a hit
    assert [r.text for r in responses] == [f"answer to {p}" for p in prompts]
    assert other.get_usage_summary().cache_hits == 64
    assert all(not r.usage.cached for r in warm)


def test_async_hits(fake, tmp_path):
    import asyncio

    fake.default = lambda r: Reply(body=openai_completion("a"))
    client = openai_client(fake, tmp_path / "c.sqlite")
    asyncio.run(client.acomplete("q"))
    response = asyncio.run(client.acomplete("q"))
    assert response.usage.cached is True
    assert len(fake.requests) == 1


def test_corrupt_row_is_a_logged_miss_and_is_repaired(fake, tmp_path, caplog):
    fake.default = lambda r: Reply(body=openai_completion("fresh"))
    path = tmp_path / "c.sqlite"
    client = openai_client(fake, path)
    client.complete("q")
    with sqlite3.connect(path) as db:
        db.execute("UPDATE responses SET payload = substr(payload, 1, 10)")
    with caplog.at_level(logging.WARNING, logger="rlm.clients"):
        response = openai_client(fake, path).complete("q")
    assert response.text == "fresh"
    assert response.usage.cached is False
    assert len(fake.requests) == 2
    assert "corrupt response-cache entry" in caplog.text
    # The miss rewrote the row: the next lookup hits.
    assert openai_client(fake, path).complete("q").usage.cached is True
    assert len(fake.requests) == 2


def test_a_file_that_is_not_a_database_is_a_configuration_error(tmp_path):
    from rlm.errors import ConfigurationError

    path = tmp_path / "junk.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ConfigurationError, match="response cache"):
        ResponseCache(path)


def test_cached_lm_wraps_any_client_and_guard_allows_hits(tmp_path):
    calls: list[str] = []

    def model(messages):
        calls.append(messages[-1]["content"])
        return "echo " + messages[-1]["content"]

    path = tmp_path / "c.sqlite"
    a = CachedLM(FunctionLM(model), path)
    b = CachedLM(FunctionLM(model), path)
    assert a.complete("hello").text == "echo hello"
    hit = b.complete("hello")
    assert hit.text == "echo hello" and hit.usage.cached
    assert calls == ["hello"]
    assert b.get_usage_summary().cache_hits == 1


WORKER = textwrap.dedent(
    """
    import sys
    from rlm.clients.cache import CachedLM
    from rlm.clients.offline import FunctionLM
    worker, path = sys.argv[1], sys.argv[2]
    lm = CachedLM(FunctionLM(lambda m: "answer " + m[-1]["content"]), path)
    for i in range(40):
        prompt = f"shared {i}" if i % 2 else f"own {worker} {i}"
        assert lm.complete(prompt).text == "answer " + prompt
    print(lm.get_usage_summary().cache_hits)
    """
)


def test_many_processes_share_one_cache_file(tmp_path):
    path = tmp_path / "c.sqlite"
    # The workers import rlm from this checkout even when it is not pip-installed.
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(n), str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for n in range(3)
    ]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    cache = ResponseCache(path)
    # 3 x 20 private prompts + 20 shared ones, each stored once.
    assert len(cache) == 80
