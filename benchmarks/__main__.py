"""`python -m benchmarks <command>`: overhead | throughput | context | tasks | codeqa | batch |
serve | retrieval | all.

Results go to benchmarks/results/<name>.{json,md} (and .jsonl/.svg for tasks), each with the
commit and machine they were measured on. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys

import benchmarks  # noqa: F401  (puts this checkout's src/ on sys.path)
from benchmarks import context_scale, engine_overhead, engines, realqa, task_runner, throughput
from benchmarks.common import RESULTS
from benchmarks.tasks import SUITES, build_suite


def _command(args: argparse.Namespace, sub: str) -> str:
    """The command line that reproduces one table (under `all`, its own subcommand)."""
    argv = sys.argv[1:]
    if argv and argv[0] == "all" and sub != "tasks":
        argv = [sub, "--grid", args.grid] + (["--no-reference"] if args.no_reference else [])
        if args.envs:
            argv += ["--envs", args.envs]
    return "python -m benchmarks " + " ".join(shlex.quote(a) for a in argv)


def _engines(args: argparse.Namespace) -> list[str]:
    return ["ours"] if args.no_reference else list(engines.ENGINES)


def _envs(args: argparse.Namespace) -> list[str] | None:
    return args.envs.split(",") if args.envs else None


def cmd_overhead(args: argparse.Namespace) -> None:
    engine_overhead.main(
        args.grid,
        _engines(args),
        _envs(args),
        args.name or "engine-overhead",
        command=_command(args, "overhead"),
    )


def cmd_throughput(args: argparse.Namespace) -> None:
    throughput.main(
        args.grid,
        _engines(args),
        _envs(args),
        args.name or "throughput",
        command=_command(args, "throughput"),
    )


def cmd_context(args: argparse.Namespace) -> None:
    context_scale.main(
        args.grid,
        _engines(args),
        _envs(args),
        args.name or "context",
        command=_command(args, "context"),
    )


def cmd_tasks(args: argparse.Namespace) -> None:
    tasks = build_suite(
        args.suite,
        seeds=[int(s) for s in args.seeds.split(",")],
        families=args.families.split(",") if args.families else None,
        max_tokens=args.max_context,
    )
    if args.limit:
        tasks = tasks[: args.limit]
    rlm_kwargs = {
        "max_iterations": args.max_iterations,
        "max_timeout": args.max_timeout,
        "max_depth": 1,
    }
    if args.environment:  # else the engine's default (the sandbox)
        rlm_kwargs["environment"] = args.environment
    if args.rlm_kwargs:
        rlm_kwargs.update(json.loads(args.rlm_kwargs))
    name = args.name or f"tasks-{args.backend}-{args.suite}"
    task_runner.main(
        tasks,
        backend=args.backend,
        backend_kwargs=json.loads(args.backend_kwargs),
        methods=args.methods.split(","),
        rlm_kwargs=rlm_kwargs,
        window=args.window,
        name=name,
        command=_command(args, "tasks"),
        notes=args.notes or "",
    )


def cmd_codeqa(args: argparse.Namespace) -> None:
    from benchmarks import codeqa

    codeqa.main(
        backend=args.backend,
        backend_kwargs=json.loads(args.backend_kwargs),
        methods=args.methods.split(","),
        limit=args.limit,
        rlm_kwargs={
            "max_iterations": args.max_iterations,
            "max_timeout": args.max_timeout,
            **json.loads(args.rlm_kwargs or "{}"),
        },
        window=args.window,
        index_files=args.index_files,
        name=args.name,
        command="python -m benchmarks " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        notes=args.notes or "",
        time_budget=args.time_budget,
    )


def cmd_retrieval(args: argparse.Namespace) -> None:
    from benchmarks import retrieval_scale

    if args.part in ("scale", "all"):
        retrieval_scale.main(
            args.grid,
            args.systems.split(","),
            args.name or "retrieval",
            command=_command(args, "retrieval"),
            workdir=args.workdir,
            keep=args.keep,
        )
    for part in ("quality", "browsecomp"):
        if args.part in (part, "all"):
            from benchmarks import retrieval_quality

            retrieval_quality.main(args, command=_command(args, "retrieval"), part=part)


def cmd_render(args: argparse.Namespace) -> None:
    """Rebuild a task run's table and plot from its JSON (the measurement metadata is kept)."""
    data = json.loads((RESULTS / f"{args.name}.json").read_text())
    task_runner.write(data["rows"], data["meta"], args.name)


def cmd_batch(args: argparse.Namespace) -> None:
    from benchmarks import batch_bench

    batch_bench.main(args.tasks, args.concurrency, args.latency, args.engines.split(","),
                     args.name or "batch", command=_command(args, "batch"))  # fmt: skip


def cmd_serve(args: argparse.Namespace) -> None:
    from benchmarks import serve_bench

    serve_bench.main([int(c) for c in args.clients.split(",")], args.per_client, args.latency,
                     args.name or "serve", command=_command(args, "serve"))  # fmt: skip


def cmd_all(args: argparse.Namespace) -> None:
    args.name = None  # each table keeps its own file name
    cmd_overhead(args)
    cmd_throughput(args)
    cmd_context(args)
    if args.backend != "none":
        cmd_tasks(args)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", required=True)

    def engine_opts(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--grid",
            choices=["smoke", "default", "full"],
            default="default",
            help="grid size (default: minutes on 2 cores; full: much longer)",
        )
        sp.add_argument(
            "--no-reference",
            action="store_true",
            help="measure only our engine (no reference virtualenv)",
        )
        sp.add_argument("--envs", help="comma list of environment names to keep (both engines)")
        sp.add_argument("--name", help="result file name (default: the command name)")

    def task_opts(sp: argparse.ArgumentParser, backend_default: str) -> None:
        sp.add_argument(
            "--backend",
            default=backend_default,
            help="registered backend name (e.g. local, openai)",
        )
        sp.add_argument("--backend-kwargs", default="{}", help="JSON object")
        sp.add_argument("--suite", choices=sorted(SUITES), default="small")
        sp.add_argument("--seeds", default="0", help="comma list of seeds")
        sp.add_argument("--families", help="comma list: niah,oolong,pairs,browsecomp")
        sp.add_argument("--max-context", type=int, help="skip tasks above this many tokens")
        sp.add_argument("--limit", type=int, help="run only the first N tasks")
        sp.add_argument("--methods", default="plain,rlm")
        sp.add_argument("--environment", help="RLM environment (default: the engine's default)")
        sp.add_argument("--max-iterations", type=int, default=8)
        sp.add_argument("--max-timeout", type=float, default=None, help="seconds per RLM task")
        sp.add_argument("--rlm-kwargs", help="extra RLM(...) keywords as JSON")
        sp.add_argument(
            "--window", type=int, help="plain model window in tokens (default: the client's)"
        )
        sp.add_argument("--notes", help="free text recorded with the results")

    for name, fn, help_ in (
        ("overhead", cmd_overhead, "engine overhead vs the ideal critical path"),
        ("throughput", cmd_throughput, "sub-call throughput, zero-latency model"),
        ("context", cmd_context, "context load time and peak RSS, 1 MB to 1 GB"),
    ):
        sp = sub.add_parser(name, help=help_)
        engine_opts(sp)
        sp.set_defaults(fn=fn)
    sp = sub.add_parser("tasks", help="long-context task suite: plain model vs RLM")
    task_opts(sp, "local")
    sp.add_argument("--name", help="result file name (default: tasks-<backend>-<suite>)")
    sp.set_defaults(fn=cmd_tasks)
    sp = sub.add_parser("codeqa", help="code QA (plain vs rlm code) and index build speed")
    sp.add_argument("--backend", default="none", help="registered backend (none: index only)")
    sp.add_argument("--backend-kwargs", default="{}", help="JSON object")
    sp.add_argument("--methods", default="plain,rlm")
    sp.add_argument("--limit", type=int, help="ask only the first N questions")
    sp.add_argument("--max-iterations", type=int, default=6)
    sp.add_argument("--max-timeout", type=float, default=300.0, help="seconds per rlm answer")
    sp.add_argument("--window", type=int, help="plain model window in tokens")
    sp.add_argument("--rlm-kwargs", help="extra RLM(...) keywords as JSON")
    sp.add_argument("--index-files", type=int, default=10_000, help="0: skip the index run")
    sp.add_argument(
        "--time-budget",
        type=float,
        help="seconds: start no new question after this (a documented subset on slow machines)",
    )
    sp.add_argument("--name", default="codeqa")
    sp.add_argument("--notes", help="free text recorded with the results")
    sp.set_defaults(fn=cmd_codeqa)

    sp = sub.add_parser("retrieval", help="embedded index vs bm25s/rank-bm25; rerank quality")
    sp.add_argument(
        "part", nargs="?", choices=["scale", "quality", "browsecomp", "all"], default="all"
    )
    sp.add_argument("--grid", choices=["smoke", "small", "default", "1m"], default="default")
    sp.add_argument("--systems", default="ours,bm25s,rank-bm25,sqlite-fts5")
    sp.add_argument("--workdir", help="where indexes are built (default: the temp dir)")
    sp.add_argument(
        "--keep",
        action="store_true",
        help="keep indexes in --workdir and reuse them (and their build numbers) next time",
    )
    sp.add_argument("--name", help="result file name (default: retrieval / retrieval-quality)")
    sp.add_argument("--backend", default="local", help="model for the quality part")
    sp.add_argument("--backend-kwargs", default="{}", help="JSON object")
    sp.add_argument("--queries", type=int, default=10, help="quality: number of queries")
    sp.add_argument("--tasks", type=int, default=3, help="browsecomp tasks (plain vs RLM)")
    sp.set_defaults(fn=cmd_retrieval)
    sp = sub.add_parser("render", help="rebuild a task run's .md/.svg from its .json")
    sp.add_argument("name", help="result name, e.g. tasks-local-small")
    sp.set_defaults(fn=cmd_render)
    realqa.add_parser(sub)
    sp = sub.add_parser("batch", help="rlm batch: local processes vs Ray, simulated model")
    sp.add_argument("--tasks", type=int, default=1000)
    sp.add_argument("--concurrency", type=int, default=8, help="tasks at once on each engine")
    sp.add_argument("--latency", type=float, default=0.05, help="seconds per model call")
    sp.add_argument("--engines", default="local,ray")
    sp.add_argument("--name", help="result file name (default: batch)")
    sp.set_defaults(fn=cmd_batch)
    sp = sub.add_parser("serve", help="rlm serve vs direct RLM.completion, simulated model")
    sp.add_argument("--clients", default="1,8,64", help="comma list of concurrency levels")
    sp.add_argument("--per-client", type=int, default=20, help="requests per client")
    sp.add_argument("--latency", type=float, default=0.02, help="seconds per model call")
    sp.add_argument("--name", help="result file name (default: serve)")
    sp.set_defaults(fn=cmd_serve)
    sp = sub.add_parser("all", help="overhead, throughput, context, then tasks")
    engine_opts(sp)
    task_opts(sp, "none")
    sp.set_defaults(fn=cmd_all)
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    args.fn(args)


if __name__ == "__main__":
    main()
