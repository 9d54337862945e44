"""`rlm serve`: an RLM behind an OpenAI-compatible HTTP API (see docs/serve.md)."""

from rlm.serve.app import RLMServer, ServeConfig, create_app
from rlm.serve.protocol import REQUEST_SETTINGS, RequestError

__all__ = ["REQUEST_SETTINGS", "RLMServer", "RequestError", "ServeConfig", "create_app"]
