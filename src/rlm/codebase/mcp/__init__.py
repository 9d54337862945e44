"""The RLM MCP gateway: IDE agents reach a repository only through bounded, audited tools.

`Gateway` holds the rules (bounds, handles, scrubbing, provenance); `build_server` puts it on
the official MCP SDK; `serve_stdio` / `serve_http` run it. See docs/mcp.md.
"""

from rlm.codebase.mcp.audit import AuditLog, Verification, default_audit_path, verify
from rlm.codebase.mcp.gateway import Gateway
from rlm.codebase.mcp.server import build_server, serve_http, serve_stdio

__all__ = [
    "AuditLog",
    "Gateway",
    "Verification",
    "build_server",
    "default_audit_path",
    "serve_http",
    "serve_stdio",
    "verify",
]
