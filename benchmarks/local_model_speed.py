"""Speed of the embedded local model on this machine: prompt and generation tokens/s, and what
the prompt-prefix cache saves on the next turn of a conversation (an RLM iteration).

    python benchmarks/local_model_speed.py [--model qwen2.5-coder-0.5b] [--prompt-tokens 1500]

Figures come from llama.cpp's own timings in each response. Run it on an idle machine: other
processes on the same cores slow every figure down.
"""

from __future__ import annotations

import argparse
import os
import time

from rlm.clients.local_model import MODELS, LocalLM


def filler(approx_tokens: int) -> str:
    # ~16 tokens per line for this tokenizer
    return "\n".join(
        f"record {i}: sensor-{i % 17} reading {(i * 37) % 1000} ok"
        for i in range(approx_tokens // 16)
    )


def run_turn(lm: LocalLM, messages: list[dict], max_tokens: int) -> dict:
    body = lm.request_body(messages, max_tokens=max_tokens)
    started = time.perf_counter()
    result = lm._server().server.handle_chat_completions(body)
    wall = time.perf_counter() - started
    t = result["timings"]
    return {
        "wall_s": wall,
        "prompt_tokens": result["usage"]["prompt_tokens"],
        "cached": t.get("cache_n", 0),
        "evaluated": t["prompt_n"],
        "prompt_tps": t["prompt_per_second"],
        "generated": t["predicted_n"],
        "gen_tps": t["predicted_per_second"],
        "text": result["choices"][0]["message"]["content"],
    }


def bench(name: str, prompt_tokens: int, gen_tokens: int, threads: int | None) -> None:
    started = time.perf_counter()
    lm = LocalLM(model=name, n_ctx=8192, n_threads=threads)
    lm.complete("hi", max_tokens=1)  # loads the model
    load = time.perf_counter() - started
    system = {"role": "system", "content": "Answer from the data.\n" + filler(prompt_tokens)}
    first = [system, {"role": "user", "content": "Write a Python function that sums a list."}]
    t1 = run_turn(lm, first, gen_tokens)
    second = [
        *first,
        {"role": "assistant", "content": t1["text"]},
        {"role": "user", "content": "Now make it skip None values."},
    ]
    # A sub-call in between, as llm_query does during an RLM iteration.
    run_turn(lm, [{"role": "user", "content": "Say OK."}], 4)
    t2 = run_turn(lm, second, gen_tokens)
    print(f"\n{name}  (load {load:.1f}s, threads {lm.n_threads}, loadavg {os.getloadavg()[0]:.1f})")
    for label, t in (("turn 1", t1), ("turn 2", t2)):
        print(
            f"  {label}: {t['wall_s']:6.1f}s  prompt {t['prompt_tokens']:5d} tok "
            f"({t['cached']:5d} cached, {t['evaluated']:5d} evaluated at {t['prompt_tps']:6.1f} "
            f"tok/s)  generated {t['generated']:4d} at {t['gen_tps']:5.1f} tok/s"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", action="append", choices=list(MODELS))
    parser.add_argument("--prompt-tokens", type=int, default=1500)
    parser.add_argument("--gen-tokens", type=int, default=96)
    parser.add_argument("--threads", type=int, default=None, help="default: all usable cores")
    args = parser.parse_args()
    for name in args.model or list(MODELS)[::-1]:
        bench(name, args.prompt_tokens, args.gen_tokens, args.threads)


if __name__ == "__main__":
    main()
