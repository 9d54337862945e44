"""Ask a codebase: a repository index with opaque handles and bounded spans.

    from rlm.codebase import Codebase, ask
    cb = Codebase.open("path/to/repo")          # indexed, cached, updated by content hash
    cb.symbols("parse")                          # definitions with line ranges
    ask("Where are retries configured?", cb, backend="openai").response

`rlm.codebase.mcp` serves the same operations to IDE agents over MCP (see docs/mcp.md).
"""

from rlm.codebase.ask import CODE_SYSTEM_PROMPT, ask, build_code_rlm
from rlm.codebase.bounds import MAX_RESPONSE_BYTES, MAX_SPAN_LINES
from rlm.codebase.errors import CodebaseError
from rlm.codebase.index import Index, UpdateStats
from rlm.codebase.repo import Codebase, handle_of
from rlm.codebase.tools import codebase_tools
from rlm.codebase.walk import WalkOptions

__all__ = [
    "CODE_SYSTEM_PROMPT",
    "MAX_RESPONSE_BYTES",
    "MAX_SPAN_LINES",
    "Codebase",
    "CodebaseError",
    "Index",
    "UpdateStats",
    "WalkOptions",
    "ask",
    "build_code_rlm",
    "codebase_tools",
    "handle_of",
]
