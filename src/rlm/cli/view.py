"""`rlm view`: serve the trajectory viewer for a log directory or one log file."""

from __future__ import annotations

import errno
import logging
import webbrowser
from pathlib import Path

from rlm.errors import ConfigurationError
from rlm.viewer.server import ViewerServer
from rlm.viewer.store import read_log

log = logging.getLogger(__name__)
DEFAULT_PORT = 8765


def open_server(target: Path, port: int | None) -> tuple[ViewerServer, str | None]:
    """Validate the target and bind the server. Returns (server, note for the user)."""
    if not target.exists():
        raise ConfigurationError(
            f"{target}: no such log file or directory (nothing logged yet? `rlm run` writes "
            "logs there; or pass a directory or file)"
        )
    if target.is_file():
        read_log(target)  # a bad file fails here with a clear LogFormatError
    try:
        return ViewerServer(target, DEFAULT_PORT if port is None else port), None
    except OSError as exc:
        if port is None and exc.errno == errno.EADDRINUSE:
            # The default port is taken (another viewer?): any free port will do.
            return ViewerServer(target, 0), f"port {DEFAULT_PORT} is busy; using another"
        raise ConfigurationError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from exc


def open_browser(url: str) -> None:
    try:
        webbrowser.open(url)
    except webbrowser.Error as exc:  # no browser here: the URL is printed anyway
        log.debug("could not open a browser: %s", exc)
