"""The MCP server: the gateway's tools on the official `mcp` SDK, over stdio or streamable HTTP.

HTTP wants a bearer token for anything but a loopback address; the check sits in front of the
whole app (every path, every method), compared in constant time.
"""

import hmac
import ipaddress
import json
import socket
import sys
from typing import Any

from rlm.codebase.mcp.gateway import TOOL_DESCRIPTIONS, Gateway
from rlm.errors import ConfigurationError, MissingDependencyError

INSTRUCTIONS = (
    "Read-only access to one code repository. Files are named by opaque handles with "
    "repo-relative paths; reads are bounded (200 lines / 8 KB per call; follow 'next'). "
    "Every call is recorded in the server's provenance log."
)


def _sdk() -> Any:
    try:
        from mcp.server.mcpserver import Context, MCPServer
    except ImportError as exc:
        raise MissingDependencyError(
            "the MCP gateway needs the official MCP SDK: pip install 'rlm[mcp]'"
        ) from exc
    return MCPServer, Context


def client_of(ctx: Any) -> str:
    """Who called: transport and peer, plus the name the client gave (not an identity proof)."""
    parts = []
    request = getattr(ctx.request_context, "request", None)
    peer = getattr(request, "client", None)
    parts.append(f"http:{peer.host}" if peer is not None else "stdio")
    params = getattr(ctx.session, "client_params", None)
    info = getattr(params, "client_info", None)
    if info is not None:
        parts.append(f"{info.name}/{info.version}")
    return " ".join(parts)


def build_server(gateway: Gateway) -> Any:
    MCPServer, Context = _sdk()
    server = MCPServer("rlm-codebase", instructions=INSTRUCTIONS)

    def run(ctx: Any, tool: str, **arguments: Any) -> str:
        return gateway.call(tool, arguments, client_of(ctx))

    def list_files(ctx: Context, glob: str | None = None, cursor: int = 0) -> str:
        return run(ctx, "list_files", glob=glob, cursor=cursor)

    def search_code(
        ctx: Context,
        pattern: str,
        regex: bool = False,
        glob: str | None = None,
        cursor: int = 0,
    ) -> str:
        return run(ctx, "search_code", pattern=pattern, regex=regex, glob=glob, cursor=cursor)

    def read_span(
        ctx: Context, handle: str, start: int | None = None, end: int | None = None
    ) -> str:
        return run(ctx, "read_span", handle=handle, start=start, end=end)

    def symbols(ctx: Context, query: str, cursor: int = 0) -> str:
        return run(ctx, "symbols", query=query, cursor=cursor)

    def outline(ctx: Context, handle: str, cursor: int = 0) -> str:
        return run(ctx, "outline", handle=handle, cursor=cursor)

    def ask(ctx: Context, question: str) -> str:
        return run(ctx, "ask", question=question)

    for fn in (list_files, search_code, read_span, symbols, outline, ask):
        server.add_tool(fn, description=TOOL_DESCRIPTIONS[fn.__name__], structured_output=False)
    return server


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class BearerAuth:
    """ASGI middleware: every HTTP request needs `Authorization: Bearer <token>`."""

    def __init__(self, app: Any, token: str):
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                body = json.dumps({"error": "unauthorized: send Authorization: Bearer <token>"})
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"www-authenticate", b'Bearer realm="rlm-mcp"'),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body.encode()})
                return
        await self.app(scope, receive, send)


def serve_stdio(gateway: Gateway) -> None:
    build_server(gateway).run("stdio")


def serve_http(gateway: Gateway, host: str, port: int, token: str | None) -> None:
    """Serve streamable HTTP at http://HOST:PORT/mcp until interrupted."""
    if not token and not is_loopback(host):
        raise ConfigurationError(
            f"serving on {host} (not loopback) needs a bearer token: pass --token or set "
            "RLM_MCP_TOKEN"
        )
    try:
        import uvicorn
    except ImportError as exc:
        raise MissingDependencyError("HTTP serving needs uvicorn: pip install 'rlm[mcp]'") from exc
    app = build_server(gateway).streamable_http_app(host=host)
    if token:
        app = BearerAuth(app, token)
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host.strip("[]"), port))
    # Listen before announcing the address: a client that connects while uvicorn is still
    # starting waits in the backlog instead of being refused.
    sock.listen(128)
    bound = sock.getsockname()[1]
    shown = f"[{host.strip('[]')}]" if family == socket.AF_INET6 else host
    print(f"rlm mcp: serving http://{shown}:{bound}/mcp", file=sys.stderr, flush=True)
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])
