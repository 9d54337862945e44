"""Benchmarks for rlm: engine overhead, sub-call throughput, context scale (each against the
reference implementation) and a long-context task suite. Run `python -m benchmarks --help`.

The benchmarks measure the `rlm` of *this* checkout (src/ is put first on sys.path), so the
commit recorded with each result is the code that was measured.
"""

from __future__ import annotations

import sys
from pathlib import Path

_SRC = str(Path(__file__).resolve().parents[1] / "src")
if _SRC not in sys.path:
    sys.path.insert(0, _SRC)
