"""Model clients. A backend is a registered name -> "module:Class"; `get_client` builds one.

Adding a provider is one file in this folder plus one line in `REGISTRY`; an installed
package can add one through the `rlm.backends` entry point group.
"""

from __future__ import annotations

from typing import Any

from rlm._registry import Registry, load
from rlm.clients.base import BaseLM
from rlm.errors import ConfigurationError

__all__ = ["REGISTRY", "BaseLM", "get_client"]

PLUGIN_GROUP = "rlm.backends"

# name -> ("module:Class", extra that provides its dependencies or None)
REGISTRY: Registry = {
    "scripted": ("rlm.clients.offline:ScriptedLM", None),
    "function": ("rlm.clients.offline:FunctionLM", None),
    "openai": ("rlm.clients.openai:OpenAIClient", "openai"),
    "vllm": ("rlm.clients.openai_compatible:VLLMClient", "openai"),
    "openrouter": ("rlm.clients.openai_compatible:OpenRouterClient", "openai"),
    "vercel": ("rlm.clients.openai_compatible:VercelClient", "openai"),
    "ollama": ("rlm.clients.openai_compatible:OllamaClient", "openai"),
    "lmstudio": ("rlm.clients.openai_compatible:LMStudioClient", "openai"),
    "llamacpp": ("rlm.clients.openai_compatible:LlamaCppClient", "openai"),
    "azure_openai": ("rlm.clients.azure_openai:AzureOpenAIClient", "openai"),
    "anthropic": ("rlm.clients.anthropic:AnthropicClient", "anthropic"),
    "gemini": ("rlm.clients.gemini:GeminiClient", "gemini"),
    "portkey": ("rlm.clients.portkey:PortkeyClient", "portkey"),
    "litellm": ("rlm.clients.litellm:LiteLLMClient", "litellm"),
    "local": ("rlm.clients.local_model:LocalLM", "local"),
}


def check_backend(backend: str | BaseLM) -> None:
    """Fail now on an unknown backend name (the client itself is built later)."""
    if isinstance(backend, str) and backend not in REGISTRY:
        load(REGISTRY, backend, "backend", "; or pass a BaseLM instance", group=PLUGIN_GROUP)


def get_client(backend: str | BaseLM, backend_kwargs: dict[str, Any] | None = None) -> BaseLM:
    """Build the client registered as `backend` (or return a `BaseLM` instance unchanged)."""
    if isinstance(backend, BaseLM):
        return backend
    if not isinstance(backend, str) and callable(getattr(backend, "completion", None)):
        from rlm.clients.foreign import as_client  # a reference-style client object

        return as_client(backend, (backend_kwargs or {}).get("model_name"))
    cls = load(REGISTRY, backend, "backend", "; or pass a BaseLM instance", group=PLUGIN_GROUP)
    try:
        return cls(**dict(backend_kwargs or {}))
    except TypeError as exc:
        raise ConfigurationError(f"backend {backend!r}: bad backend_kwargs: {exc}") from exc
