"""The OpenAI-compatible family: servers and gateways that speak Chat Completions, reached
through the official `openai` SDK with their own base_url and API-key defaults.

One table, `PROVIDERS`, says everything that differs between them; `CompatibleClient` reads
its row. Adding a compatible server is one row here plus one registry line.

Local servers get `max_tokens` (what they all read); OpenAI itself gets
`max_completion_tokens`. OpenRouter is asked to include its exact cost in the usage block,
and `reasoning_effort` becomes its `reasoning: {effort}` field.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, ClassVar

from rlm.clients.openai import OpenAIClient
from rlm.types import Message


@dataclass(frozen=True)
class Compatible:
    """How one OpenAI-compatible provider differs from OpenAI itself."""

    default_base_url: str
    api_key_env: str | None = None
    api_key_required: bool = False
    base_url_env: str | None = None  # overrides default_base_url when set
    reports_cost: bool = False  # OpenRouter: ask for usage.cost, map reasoning_effort


PROVIDERS: dict[str, Compatible] = {
    "vllm": Compatible("http://localhost:8000/v1", "VLLM_API_KEY", base_url_env="VLLM_BASE_URL"),
    "ollama": Compatible("http://localhost:11434/v1", base_url_env="OLLAMA_BASE_URL"),
    "lmstudio": Compatible("http://localhost:1234/v1", base_url_env="LMSTUDIO_BASE_URL"),
    "llamacpp": Compatible(
        "http://localhost:8080/v1", "LLAMACPP_API_KEY", base_url_env="LLAMACPP_BASE_URL"
    ),
    "vercel": Compatible("https://ai-gateway.vercel.sh/v1", "AI_GATEWAY_API_KEY", True),
    "openrouter": Compatible(
        "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY", True, None, True
    ),
}


class CompatibleClient(OpenAIClient):
    """An OpenAI-compatible provider; `provider` names its row in `PROVIDERS`."""

    provider: ClassVar[Compatible]
    max_tokens_param: ClassVar[str] = "max_tokens"

    def __init__(self, model_name: str | None = None, base_url: str | None = None, **kwargs: Any):
        row = self.provider
        if base_url is None and row.base_url_env and os.environ.get(row.base_url_env):
            base_url = os.environ[row.base_url_env]
        super().__init__(model_name, base_url=base_url, **kwargs)

    def _request_args(self, model: str, messages: list[Message], args: dict[str, Any]) -> dict:
        if not self.provider.reports_cost:
            return super()._request_args(model, messages, args)
        args = dict(args)
        effort = args.pop("reasoning_effort", None)
        kwargs = super()._request_args(model, messages, args)
        extra = dict(kwargs.get("extra_body") or {})
        extra.setdefault("usage", {"include": True})  # report the exact cost in usage.cost
        if effort is not None:
            extra.setdefault("reasoning", {"effort": effort})
        kwargs["extra_body"] = extra
        return kwargs


def _client_class(backend: str, class_name: str) -> type[CompatibleClient]:
    row = PROVIDERS[backend]
    attrs = {
        "backend": backend,
        "provider": row,
        "api_key_env": row.api_key_env,
        "api_key_required": row.api_key_required,
        "default_base_url": row.default_base_url,
        "__module__": __name__,
        "__doc__": f"The {backend!r} backend (OpenAI-compatible, see PROVIDERS).",
    }
    return type(class_name, (CompatibleClient,), attrs)


# Named classes, so the registry and error messages can point at them.
VLLMClient = _client_class("vllm", "VLLMClient")
OllamaClient = _client_class("ollama", "OllamaClient")
LMStudioClient = _client_class("lmstudio", "LMStudioClient")
LlamaCppClient = _client_class("llamacpp", "LlamaCppClient")
VercelClient = _client_class("vercel", "VercelClient")
OpenRouterClient = _client_class("openrouter", "OpenRouterClient")

__all__ = [
    "PROVIDERS",
    "Compatible",
    "CompatibleClient",
    "LMStudioClient",
    "LlamaCppClient",
    "OllamaClient",
    "OpenRouterClient",
    "VLLMClient",
    "VercelClient",
]
