"""What the runtime layer's REPL names cost when a context loads, measured in one run.

    python benchmarks/runtime_layer.py [--mb 100] [--docs 10000]

Every REPL builds `ctx` and `P` over its context (rlm.environments.toolkit.build_helpers).
For a str context that is a reference (no copy); for a list of documents `P` is one joined
copy. This measures, in a real sandbox, the time to load a context end to end (send, decode,
build the names) and, in-process, the time of build_helpers alone, as a share of the load.
Writes benchmarks/results/runtime-layer.json and .md with the command line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from rlm.environments import get_environment  # noqa: E402
from rlm.environments.toolkit import build_helpers  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


class _NoHost:
    def call(self, name: str, payload: dict) -> None:
        raise RuntimeError("no model calls in this benchmark")


def contexts(mb: int, docs: int) -> dict[str, object]:
    size = mb * 10**6
    line = "The licensee may cure a violation within thirty days of notice. "
    text = (line * (size // len(line) + 1))[:size]
    per = size // docs
    return {
        "str": text,
        "list of str": [text[i * per : (i + 1) * per] for i in range(docs)],
        "list of {path, content}": [
            {"path": f"doc{i}.txt", "content": text[i * per : (i + 1) * per]} for i in range(docs)
        ],
    }


def sandbox_load(context: object) -> float:
    env = get_environment("sandbox", host=_NoHost())
    try:
        started = time.perf_counter()
        env.load_context(context)
        out = env.execute_code("print(lenP(), ctx.num_documents())")
        elapsed = time.perf_counter() - started
        assert not out.stderr, out.stderr
        return elapsed
    finally:
        env.close()


def helpers_only(context: object) -> float:
    started = time.perf_counter()
    build_helpers(context, lambda *a, **k: "", lambda *a, **k: [])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--docs", type=int, default=10_000)
    args = parser.parse_args()
    rows = []
    for shape, context in contexts(args.mb, args.docs).items():
        load = sandbox_load(context)
        build = min(helpers_only(context) for _ in range(3))
        rows.append({"shape": shape, "load_s": load, "build_helpers_s": build,
                     "share": build / load})  # fmt: skip
        print(f"{shape:26} load {load:7.3f}s  build_helpers {build:7.4f}s  ({build / load:.1%})")
    command = "python benchmarks/runtime_layer.py " + " ".join(sys.argv[1:])
    RESULTS.mkdir(parents=True, exist_ok=True)
    meta = {"command": command.strip(), "machine": platform.platform(), "mb": args.mb,
            "docs": args.docs, "load_average": os.getloadavg()[0]}  # fmt: skip
    (RESULTS / "runtime-layer.json").write_text(json.dumps({**meta, "rows": rows}, indent=2))
    lines = [
        f"# Runtime layer: cost of ctx/P at context load ({args.mb} MB, {args.docs:,} documents)",
        "",
        f"Command: `{meta['command']}` on {meta['machine']} (load average "
        f"{meta['load_average']:.1f} at the end: shared machine, times are indicative)",
        "",
        "| context shape | sandbox load (s) | build_helpers alone (s) | share of the load |",
        "| --- | ---: | ---: | ---: |",
        *(
            f"| {r['shape']} | {r['load_s']:.3f} | {r['build_helpers_s']:.4f} | {r['share']:.1%} |"
            for r in rows
        ),
    ]
    (RESULTS / "runtime-layer.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
