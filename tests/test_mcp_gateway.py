"""`rlm mcp serve` driven by the official MCP client, over stdio and streamable HTTP.

The gateway runs in its own process with the repository; the client gets only a command line
or a URL and a token. Every response must be bounded, free of absolute paths, and audited.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from click.testing import CliRunner
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from rlm.cli.main import main
from rlm.codebase.bounds import MAX_RESPONSE_BYTES, MAX_SPAN_LINES

SRC = str(Path(__file__).resolve().parents[1] / "src")
TOKEN = "s3cret-token-for-tests"
TOOLS = {"list_files", "search_code", "read_span", "symbols", "outline", "ask"}
# The `ask` tool's model: a scripted run that uses the helpers inside the sandbox.
ASK_SCRIPT = [
    "```repl\ns = symbols('compute_total')[0]\nFINAL(f\"{s['path']}:{s['start']}-{s['end']}\")\n```"
]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "served-repo"
    (root / "pkg").mkdir(parents=True)
    escaped = 'quote " and backslash \\ '  # JSON escaping grows these: spans must still fit
    big = [f"ROW_{i} = {i}  # {escaped if i % 7 == 0 else ''}\n" for i in range(1000)]
    (root / "pkg" / "big.py").write_text("".join(big))
    (root / "pkg" / "calc.py").write_text(
        "def compute_total(items):\n    return sum(items)\n\n\nclass Ledger:\n    pass\n"
    )
    return root


def _server_args(repo: Path, audit: Path) -> list[str]:
    return ["-m", "rlm.cli", "mcp", "serve", "--repo", str(repo), "--audit-log", str(audit),
            "--no-cache", "--no-log", "-b", "scripted",
            "--backend-kwargs", json.dumps({"responses": ASK_SCRIPT})]  # fmt: skip


def _env(tmp_path: Path) -> dict[str, str]:
    return {"PYTHONPATH": SRC, "XDG_CACHE_HOME": str(tmp_path / "cache"),
            "RLM_BLOCK_REAL_REQUESTS": "1"}  # fmt: skip


async def _exercise(client: Client, repo: Path) -> tuple[int, str]:
    """Use every tool; return (number of calls made, the 1,000-line file as read)."""
    texts: list[str] = []

    async def call(tool: str, args: dict[str, Any]) -> dict[str, Any]:
        result = await client.call_tool(tool, args)
        text = result.content[0].text
        texts.append(text)
        assert len(text.encode()) <= MAX_RESPONSE_BYTES
        return json.loads(text)

    listed = await client.list_tools()
    assert {t.name for t in listed.tools} == TOOLS
    files = await call("list_files", {})
    by_path = {f["path"]: f["handle"] for f in files["files"]}
    assert set(by_path) == {"pkg/big.py", "pkg/calc.py"}
    cursor, pieces = by_path["pkg/big.py"], []
    while cursor:
        span = await call("read_span", {"handle": cursor})
        assert span["end"] - span["start"] + 1 <= MAX_SPAN_LINES
        pieces.append(span["text"])
        cursor = span["next"]
    assert len(pieces) >= 5
    hits = await call("search_code", {"pattern": "ROW_99[0-9] ", "regex": True})
    assert [h["line"] for h in hits["hits"]] == list(range(991, 1001))
    found = await call("symbols", {"query": "compute"})
    assert found["symbols"][0]["qualname"] == "compute_total"
    outline = await call("outline", {"handle": by_path["pkg/calc.py"]})
    assert [s["name"] for s in outline["symbols"]] == ["compute_total", "Ledger"]
    refused = await call("read_span", {"handle": "../../etc/passwd"})
    assert "unknown handle" in refused["error"]
    answer = await call("ask", {"question": "Where is compute_total defined?"})
    assert answer["answer"] == "pkg/calc.py:1-2"
    for text in texts:  # no absolute host path, in any form, anywhere
        assert str(repo) not in text and str(repo.parent) not in text
        assert not re.search(r'"(/(tmp|home|root|work|usr)/[^"]*)"', text), text
    return len(texts), "".join(pieces)


def _audit_lines(audit: Path, calls: int) -> list[dict[str, Any]]:
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert len(records) == calls  # one line per call (list_tools is not a tool call)
    for record in records:
        assert {"time", "client", "tool", "arguments", "handles", "bytes", "sha256"} <= set(record)
    return records


def test_stdio(repo: Path, tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    params = StdioServerParameters(
        command=sys.executable, args=_server_args(repo, audit), env=_env(tmp_path),
        cwd=str(tmp_path),
    )  # fmt: skip

    async def session() -> tuple[int, str]:
        async with Client(params) as client:
            return await _exercise(client, repo)

    calls, text = anyio.run(session)
    assert text == (repo / "pkg" / "big.py").read_text()
    records = _audit_lines(audit, calls)
    assert records[0]["client"].startswith("stdio")
    reads = [r for r in records if r["tool"] == "read_span" and r["ok"]]
    assert sum(r["bytes"] for r in reads) > len(text)  # every span counted
    assert all(r["handles"] for r in reads)

    result = CliRunner().invoke(main, ["mcp", "audit", str(audit)])
    assert result.exit_code == 0, result.output
    assert f"{calls} record(s); chain intact" in result.stderr
    lines = audit.read_text().splitlines()
    lines[2] = lines[2].replace('"ok": true', '"ok": false')  # tamper with one record
    audit.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(main, ["mcp", "audit", str(audit), "-q"])
    assert result.exit_code == 1 and "line 4: chain broken" in result.stderr


@pytest.fixture
def http_gateway(repo: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    audit = tmp_path / "audit.jsonl"
    proc = subprocess.Popen(
        [sys.executable, *_server_args(repo, audit), "--http", "127.0.0.1:0", "--token", TOKEN],
        env={**os.environ, **_env(tmp_path)}, cwd=tmp_path, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        match = re.search(r"serving (http://127\.0\.0\.1:\d+/mcp)", line)
        assert match, line + (proc.stderr.read() if proc.poll() is not None else "")
        yield match.group(1), audit
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_http_with_token_from_another_process(http_gateway: tuple[str, Path], repo: Path) -> None:
    url, audit = http_gateway

    async def session(token: str) -> tuple[int, str]:
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"})
        async with http, Client(streamable_http_client(url, http_client=http)) as client:
            return await _exercise(client, repo)

    calls, text = anyio.run(session, TOKEN)
    assert text == (repo / "pkg" / "big.py").read_text()
    records = _audit_lines(audit, calls)
    assert records[0]["client"].startswith("http:127.0.0.1")

    for headers in ({"Authorization": "Bearer wrong"}, {}):
        response = httpx2.post(url, headers=headers, json={"jsonrpc": "2.0", "id": 1,
                                                           "method": "tools/list"})  # fmt: skip
        assert response.status_code == 401
    with pytest.raises(Exception):  # noqa: B017 - the SDK's own error for a refused connection
        anyio.run(session, "wrong-token")
    assert len(audit.read_text().splitlines()) == calls  # refused requests reached no tool


def test_http_off_loopback_needs_a_token(repo: Path, tmp_path: Path) -> None:
    from rlm.codebase import Codebase
    from rlm.codebase.mcp import AuditLog, Gateway, serve_http
    from rlm.errors import ConfigurationError

    gateway = Gateway(Codebase.open(repo, use_cache=False), AuditLog(tmp_path / "a.jsonl"))
    with pytest.raises(ConfigurationError, match="needs a bearer token"):
        serve_http(gateway, "0.0.0.0", 0, None)


def test_gateway_pages_lists_under_the_limit(tmp_path: Path) -> None:
    from rlm.codebase import Codebase
    from rlm.codebase.mcp import AuditLog, Gateway, verify

    root = tmp_path / "many"
    for i in range(400):
        (root / f"dir{i % 7}").mkdir(parents=True, exist_ok=True)
        (root / f"dir{i % 7}" / f"module_with_a_long_name_{i:04d}.py").write_text(
            f"def f{i}(): pass\n"
        )
    gateway = Gateway(Codebase.open(root, use_cache=False), AuditLog(tmp_path / "a.jsonl"))
    seen, cursor, pages = [], 0, 0
    while cursor is not None:
        text = gateway.call("list_files", {"cursor": cursor}, "test")
        assert len(text.encode()) <= MAX_RESPONSE_BYTES
        body = json.loads(text)
        seen += [f["path"] for f in body["files"]]
        cursor, pages = body["next_cursor"], pages + 1
    assert len(seen) == len(set(seen)) == 400 and pages > 1
    error = json.loads(gateway.call("ask", {"question": "x"}, "test"))["error"]
    assert "without a model" in error
    audit = verify(tmp_path / "a.jsonl")
    assert audit.ok and len(audit.records) == pages + 1 and not audit.records[-1]["ok"]
