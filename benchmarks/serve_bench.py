"""`python -m benchmarks serve`: what `rlm serve` adds over calling `RLM.completion` directly.

The same RLM run (a simulated model sleeping `latency` per call: one REPL cell, then
FINAL_VAR, in the `local` REPL) is timed two ways at 1, 8 and 64 concurrent clients:
directly (`RLM.completion` from that many threads) and through `rlm serve` (uvicorn in a child
process, clients on aiohttp). Added latency = serve percentile - direct percentile.
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

from benchmarks.common import REPO, header, markdown_table, write_results

MESSAGES = [{"role": "system", "content": "doc " * 200}, {"role": "user", "content": "count"}]


def model(messages: list[dict[str, Any]], sampling: dict[str, Any]) -> str:
    time.sleep(sampling.get("latency", 0.02))
    if any(m["role"] == "assistant" for m in messages):
        return "FINAL_VAR(n)"
    return "```repl\nn = len(context)\n```"


def rlm_kwargs(latency: float) -> dict[str, Any]:
    return {"backend": "function", "environment": "local",
            "backend_kwargs": {"function": model, "sampling_args": {"latency": latency}}}  # fmt: skip


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def direct(concurrency: int, requests: int, latency: float) -> tuple[float, list[float]]:
    from rlm import RLM

    latencies: list[float] = []
    lock = threading.Lock()
    counter = iter(range(requests))

    def client() -> None:
        while next(counter, None) is not None:
            start = time.perf_counter()
            with RLM(**rlm_kwargs(latency)) as rlm:  # a fresh RLM per request, as the server
                assert rlm.completion(MESSAGES, root_prompt="count").response == "2"
            with lock:
                latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, latencies


# The run time the server itself reports per request (RLM.acompletion inside the server):
# client latency minus this is HTTP, JSON and the client library.
server_times: list[float] = []


async def _through_http(port: int, concurrency: int, requests: int) -> tuple[float, list[float]]:
    # aiohttp, not httpx: at 64 concurrent requests httpx's own per-request cost capped the
    # measured rate at ~65 req/s on this machine (aiohttp: ~280) and hid the server's.
    import aiohttp

    latencies: list[float] = []
    counter = iter(range(requests))
    body = {"model": "rlm", "messages": MESSAGES}
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            while next(counter, None) is not None:
                start = time.perf_counter()
                async with session.post(url, json=body) as reply:
                    reply.raise_for_status()
                    body_out = await reply.json()
                assert body_out["choices"][0]["message"]["content"] == "2"
                latencies.append(time.perf_counter() - start)
                server_times.append(body_out["rlm"]["execution_time"])

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - start, latencies


def serve_child(port: int, latency: float, max_concurrent: int) -> None:
    """Entry point of the server process."""
    import uvicorn

    from rlm.serve import ServeConfig, create_app

    app = create_app(ServeConfig(rlm_kwargs=rlm_kwargs(latency), max_concurrent=max_concurrent))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def _start_server(latency: float, max_concurrent: int) -> tuple[subprocess.Popen, int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code = (f"from benchmarks.serve_bench import serve_child; "
            f"serve_child({port}, {latency!r}, {max_concurrent})")  # fmt: skip
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'src'}"}
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("rlm serve did not start")


def row(mode: str, concurrency: int, wall: float, lat: list[float]) -> dict[str, Any]:
    return {"mode": mode, "concurrency": concurrency, "requests": len(lat),
            "requests_per_s": len(lat) / wall, "p50_ms": statistics.median(lat) * 1000,
            "p99_ms": percentile(lat, 0.99) * 1000}  # fmt: skip


def main(levels: list[int], per_client: int, latency: float, name: str, command: str) -> None:
    rows = []
    proc, port = _start_server(latency, max(levels))
    try:
        for concurrency in levels:
            requests = max(50, per_client * concurrency)
            print(f"serve: {concurrency} client(s), {requests} requests ...", flush=True)
            direct(concurrency, min(requests, 20), latency)  # warm-up
            d = row("direct", concurrency, *direct(concurrency, requests, latency))
            asyncio.run(_through_http(port, concurrency, min(requests, 20)))  # warm-up
            server_times.clear()
            s = row("serve", concurrency, *asyncio.run(_through_http(port, concurrency, requests)))
            s["server_run_p50_ms"] = statistics.median(server_times) * 1000
            s["server_run_p99_ms"] = percentile(server_times, 0.99) * 1000
            s["added_p50_ms"] = s["p50_ms"] - d["p50_ms"]
            s["added_p99_ms"] = s["p99_ms"] - d["p99_ms"]
            s["rps_vs_direct"] = s["requests_per_s"] / d["requests_per_s"]
            rows += [d, s]
            print(f"  direct {d['requests_per_s']:.1f} req/s, serve {s['requests_per_s']:.1f} "
                  f"req/s, added p99 {s['added_p99_ms']:.1f} ms")  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(10)
    meta = header("serve", command=command, latency_s=latency, model_calls_per_request=2,
                  title="rlm serve against direct RLM.completion",
                  notes="Both sides build a fresh RLM per request. The server runs in its own "
                  "process; clients (threads for direct, aiohttp for serve) share the same two "
                  "cores. 'run in server' is the RLM run time the server reports per request "
                  "(rlm.execution_time): the rest of the serve latency is HTTP, JSON and the "
                  "client library.")  # fmt: skip
    table = markdown_table(
        ["mode", "clients", "requests", "req/s", "p50 ms", "p99 ms", "added p50 ms",
         "added p99 ms", "req/s vs direct", "run p50 ms in server", "run p99 ms in server"],
        [[r["mode"], r["concurrency"], r["requests"], r["requests_per_s"], r["p50_ms"],
          r["p99_ms"], r.get("added_p50_ms"), r.get("added_p99_ms"), r.get("rps_vs_direct"),
          r.get("server_run_p50_ms"), r.get("server_run_p99_ms")]
         for r in rows],
    )  # fmt: skip
    json_path, md_path = write_results(name, meta, rows, table)
    print(table)
    print(f"wrote {json_path} and {md_path}")
