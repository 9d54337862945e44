"""A local web viewer for trajectory logs: `rlm view`, or `ViewerServer(log_dir).start()`."""

from rlm.viewer.server import ViewerServer
from rlm.viewer.store import LogStore, Run, read_log

__all__ = ["LogStore", "Run", "ViewerServer", "read_log"]
