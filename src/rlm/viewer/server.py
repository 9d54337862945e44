"""The trajectory viewer: a stdlib HTTP server on 127.0.0.1.

It serves the static app shipped in `rlm/viewer/static/` (no build step, no CDN) and a
small JSON API:

    GET /api/runs?q=TEXT   run summaries, newest first (q: case-insensitive full-text filter)
    GET /api/run?id=ID     one run: metadata, run_context, iterations, warnings

Requests whose Host header is not this loopback address are refused, so a web page in the
user's browser cannot reach the logs through DNS rebinding.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import threading
from functools import partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from rlm.viewer.store import LogStore

log = logging.getLogger(__name__)

STATIC_FILES = ("index.html", "app.js", "style.css")


def _static(name: str) -> bytes:
    return resources.files("rlm.viewer").joinpath("static", name).read_bytes()


class _Handler(BaseHTTPRequestHandler):
    server_version = "rlm-viewer"

    def __init__(self, *args: Any, store: LogStore, **kwargs: Any):
        self.store = store
        super().__init__(*args, **kwargs)

    def log_message(self, format: str, *args: Any) -> None:  # keep the terminal quiet
        log.debug("viewer: " + format, *args)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'",
        )
        self.end_headers()
        self.wfile.write(body)

    def _json(self, value: Any, status: int = HTTPStatus.OK) -> None:
        body = json.dumps(value, default=str).encode("utf-8")
        self._send(status, body, "application/json; charset=utf-8")

    def _host_ok(self) -> bool:
        host = (self.headers.get("Host") or "").strip()
        port = self.server.server_address[1]
        return host in {f"127.0.0.1:{port}", f"localhost:{port}"}

    def do_GET(self) -> None:
        if not self._host_ok():
            self._json({"error": "unexpected Host header"}, HTTPStatus.FORBIDDEN)
            return
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path in ("/", "/index.html"):
            self._send(HTTPStatus.OK, _static("index.html"), "text/html; charset=utf-8")
        elif url.path.lstrip("/") in STATIC_FILES:
            name = url.path.lstrip("/")
            kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
            self._send(HTTPStatus.OK, _static(name), f"{kind}; charset=utf-8")
        elif url.path == "/api/runs":
            self._json(self._runs((query.get("q") or [""])[0]))
        elif url.path == "/api/run":
            run_id = (query.get("id") or [""])[0]
            run = self.store.get(run_id)
            if run is None:
                self._json({"error": f"no run {run_id!r}"}, HTTPStatus.NOT_FOUND)
            else:
                self._json(run.to_dict())
        else:
            self._json({"error": "not found"}, HTTPStatus.NOT_FOUND)

    def _runs(self, q: str) -> dict[str, Any]:
        runs = self.store.runs()
        if q:
            needle = q.lower()
            runs = [r for r in runs if needle in r.search_text]
        return {
            "root": str(self.store.root),
            "runs": [r.summary() for r in runs],
            "errors": self.store.errors,
        }


class ViewerServer:
    """The viewer bound to 127.0.0.1:`port` (0 picks a free port)."""

    def __init__(self, root: str | Path, port: int = 0):
        self.store = LogStore(Path(root))
        handler = partial(_Handler, store=self.store)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def start(self) -> ViewerServer:
        """Serve from a background thread (tests, embedding)."""
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        # shutdown() waits for serve_forever to notice, so only call it when one is running.
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(timeout=5)
        self.httpd.server_close()

    def __enter__(self) -> ViewerServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
