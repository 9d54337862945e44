"""Run the reference implementation's own test suite against OUR package.

    python benchmarks/reference_suite.py /path/to/reference-checkout [--python VENV/bin/python]

The checkout is a work tree or a bare git dir of github.com/alexzhang13/rlm (no network:
nothing is fetched). Its `tests/` are copied to a temporary directory and run with the given
interpreter, which must have our package installed as `rlm` and NOT the reference's `rlms`
(the script refuses to run otherwise). Real provider requests are blocked
(RLM_BLOCK_REAL_REQUESTS=1) and the environment is scrubbed of API keys.

Writes benchmarks/results/reference-suite.md: passed/failed/skipped/errors overall and per
test file, the failing tests, and the exact command.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import RESULTS, commit

OUTCOMES = ("passed", "failed", "skipped", "error")


def copy_tests(checkout: Path, dest: Path) -> Path:
    """The reference's tests/ from a work tree, or from HEAD of a (bare) git dir."""
    if (checkout / "tests").is_dir():
        shutil.copytree(checkout / "tests", dest / "tests")
    else:
        archive = subprocess.run(
            ["git", "-C", str(checkout), "archive", "HEAD", "tests"],
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest / "tests"


def reference_head(checkout: Path) -> str:
    proc = subprocess.run(
        ["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True
    )
    return proc.stdout.strip() or "unknown"


def check_interpreter(python: str) -> str:
    probe = (
        "import importlib.metadata as m, rlm, sys\n"
        "names = {d.metadata['Name'] for d in m.distributions()}\n"
        "print(rlm.__file__)\n"
        "sys.exit('rlms (the reference) is installed here' if 'rlms' in names else 0)"
    )
    proc = subprocess.run([python, "-c", probe], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{python}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout.strip()


def run(python: str, workdir: Path, timeout: int) -> Path:
    report = workdir / "junit.xml"
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(Path.home()),
        "LANG": "C.UTF-8",
        "RLM_BLOCK_REAL_REQUESTS": "1",
    }
    cmd = [python, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
           f"--timeout={timeout}", "--continue-on-collection-errors", f"--junitxml={report}"]  # fmt: skip
    subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True)
    return report


def tally(report: Path) -> tuple[Counter[str], dict[str, Counter[str]], list[str]]:
    total: Counter[str] = Counter()
    per_file: dict[str, Counter[str]] = defaultdict(Counter)
    failing: list[str] = []
    for case in ET.parse(report).getroot().iter("testcase"):
        classname = case.get("classname", "")
        name = case.get("name", "")
        module = classname.split(".")
        # tests.test_x.Class -> tests/test_x.py
        parts = [p for p in module if not p[:1].isupper()]
        path = "/".join(parts) + ".py" if parts else classname
        kinds = {child.tag for child in case}
        if "error" in kinds:
            outcome = "error"
        elif "failure" in kinds:
            outcome = "failed"
        elif "skipped" in kinds:
            outcome = "skipped"
        else:
            outcome = "passed"
        total[outcome] += 1
        per_file[path][outcome] += 1
        if outcome in ("failed", "error"):
            owner = classname.split(".")[-1]
            failing.append(f"{path}::{owner}::{name}" if owner[:1].isupper() else f"{path}::{name}")
    return total, per_file, failing


def render(total, per_file, failing, command: str, ref_head: str, rlm_path: str) -> str:
    ours = commit()
    lines = [
        "# The reference's test suite, run against our package",
        "",
        f"Command: `{command}`",
        "",
        f"Reference tests: github.com/alexzhang13/rlm `tests/` at {ref_head[:12]}; our commit "
        f"{ours.get('commit', '?')[:12]}{' (dirty)' if ours.get('dirty') else ''}; "
        f"`rlm` imported from `{rlm_path}`.",
        "",
        "| | passed | failed | skipped | errors |",
        "|---|---:|---:|---:|---:|",
        "| **total** | " + " | ".join(str(total[o]) for o in OUTCOMES) + " |",
    ]
    for path in sorted(per_file):
        counts = per_file[path]
        lines.append(f"| {path} | " + " | ".join(str(counts[o]) for o in OUTCOMES) + " |")
    lines += ["", "Skips are the reference's own (no Docker daemon, no API keys, extras not",
              "installed). Failing tests, grouped with reasons in docs/switching.md:", ""]  # fmt: skip
    lines += [f"- `{name}`" for name in failing] or ["- none"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkout", type=Path, help="reference work tree or git dir")
    parser.add_argument("--python", default=sys.executable, help="interpreter with OUR rlm")
    parser.add_argument("--timeout", type=int, default=120, help="per-test timeout (s)")
    parser.add_argument("--out", type=Path, default=RESULTS / "reference-suite.md")
    args = parser.parse_args(argv)
    rlm_path = check_interpreter(args.python)
    with tempfile.TemporaryDirectory(prefix="rlm-refsuite-") as tmp:
        copy_tests(args.checkout, Path(tmp))
        report = run(args.python, Path(tmp), args.timeout)
        total, per_file, failing = tally(report)
    command = "python benchmarks/reference_suite.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    text = render(total, per_file, failing, command, reference_head(args.checkout), rlm_path)
    args.out.write_text(text)
    print(" ".join(f"{o}={total[o]}" for o in OUTCOMES))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
