"""Real-material questions (licences, CPython's stdlib) with verified answers: the plain model,
`rlm run` and the router side by side. `python -m benchmarks realqa --help`."""

from __future__ import annotations

import argparse
import json
import shlex
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    sp = sub.add_parser("realqa", help="real-material questions: plain vs rlm run vs router")
    sp.add_argument("--backend", default="local")
    sp.add_argument("--backend-kwargs", default="{}", help="JSON object (also given to rlm run)")
    sp.add_argument("--methods", default="plain,rlm,router", help="comma list: plain,rlm,router")
    sp.add_argument("--max-timeout", type=float, help="rlm run --max-timeout (seconds)")
    sp.add_argument("--rlm-flags", default="{}", help="more rlm run settings as JSON")
    sp.add_argument("--only", help="comma list of question ids or corpus names")
    sp.add_argument("--reuse", help="take the other methods' rows from this earlier run")
    sp.add_argument("--name", default="realqa-local")
    sp.add_argument("--notes", default="")
    sp.add_argument(
        "--combine",
        help="no run: write --name's table from these earlier runs' results (comma list; "
        "NAME:plain+rlm takes only those methods, later rows replace earlier), each row "
        "keeping the commit and command that measured it",
    )
    sp.add_argument(
        "--replay",
        help="no model: feed this earlier run's recorded replies through this checkout's engine",
    )
    sp.set_defaults(fn=run)


def run(args: argparse.Namespace) -> None:
    from benchmarks.realqa import runner

    if args.replay:
        from benchmarks.realqa.replay import replay

        print(replay(args.replay))
        return
    if args.combine:
        runner.combine(args.combine.split(","), args.name, args.notes)
        return
    flags = json.loads(args.rlm_flags)
    if args.max_timeout:
        flags["max_timeout"] = args.max_timeout
    runner.main(
        backend=args.backend,
        backend_kwargs=json.loads(args.backend_kwargs),
        methods=args.methods.split(","),
        cli_flags=flags,
        name=args.name,
        command="python -m benchmarks " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        only=args.only.split(",") if args.only else None,
        notes=args.notes,
        reuse=args.reuse,
    )
