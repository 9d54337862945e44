"""The OpenAI-compatible family: servers and gateways that speak Chat Completions, reached
through the official `openai` SDK with their own base_url and API-key defaults.

| backend     | default base_url                   | API key variable    | key needed |
|-------------|------------------------------------|---------------------|------------|
| vllm        | $VLLM_BASE_URL or localhost:8000/v1 | VLLM_API_KEY        | no         |
| openrouter  | https://openrouter.ai/api/v1       | OPENROUTER_API_KEY  | yes        |
| vercel      | https://ai-gateway.vercel.sh/v1    | AI_GATEWAY_API_KEY  | yes        |
| ollama      | $OLLAMA_BASE_URL or localhost:11434/v1 | (none)          | no         |
| lmstudio    | $LMSTUDIO_BASE_URL or localhost:1234/v1 | (none)         | no         |
| llamacpp    | $LLAMACPP_BASE_URL or localhost:8080/v1 | (none)         | no         |

Local servers get `max_tokens` (what they all read); OpenAI itself gets
`max_completion_tokens`. OpenRouter is asked to include its exact cost in the usage block,
and `reasoning_effort` becomes its `reasoning: {effort}` field.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from rlm.clients.openai import OpenAIClient
from rlm.types import Message

__all__ = [
    "LMStudioClient",
    "LlamaCppClient",
    "OllamaClient",
    "OpenRouterClient",
    "VLLMClient",
    "VercelClient",
]


class _CompatibleClient(OpenAIClient):
    base_url_env: ClassVar[str | None] = None
    max_tokens_param: ClassVar[str] = "max_tokens"

    def __init__(self, model_name: str | None = None, base_url: str | None = None, **kwargs: Any):
        if base_url is None and self.base_url_env and os.environ.get(self.base_url_env):
            base_url = os.environ[self.base_url_env]
        super().__init__(model_name, base_url=base_url, **kwargs)


class VLLMClient(_CompatibleClient):
    backend = "vllm"
    api_key_env = "VLLM_API_KEY"
    api_key_required = False
    base_url_env = "VLLM_BASE_URL"
    default_base_url = "http://localhost:8000/v1"


class OllamaClient(_CompatibleClient):
    backend = "ollama"
    api_key_env = None
    api_key_required = False
    base_url_env = "OLLAMA_BASE_URL"
    default_base_url = "http://localhost:11434/v1"


class LMStudioClient(_CompatibleClient):
    backend = "lmstudio"
    api_key_env = None
    api_key_required = False
    base_url_env = "LMSTUDIO_BASE_URL"
    default_base_url = "http://localhost:1234/v1"


class LlamaCppClient(_CompatibleClient):
    backend = "llamacpp"
    api_key_env = "LLAMACPP_API_KEY"
    api_key_required = False
    base_url_env = "LLAMACPP_BASE_URL"
    default_base_url = "http://localhost:8080/v1"


class VercelClient(_CompatibleClient):
    backend = "vercel"
    api_key_env = "AI_GATEWAY_API_KEY"
    api_key_required = True
    default_base_url = "https://ai-gateway.vercel.sh/v1"


class OpenRouterClient(_CompatibleClient):
    backend = "openrouter"
    api_key_env = "OPENROUTER_API_KEY"
    api_key_required = True
    default_base_url = "https://openrouter.ai/api/v1"

    def _request_args(self, model: str, messages: list[Message], args: dict[str, Any]) -> dict:
        args = dict(args)
        effort = args.pop("reasoning_effort", None)
        kwargs = super()._request_args(model, messages, args)
        extra = dict(kwargs.get("extra_body") or {})
        extra.setdefault("usage", {"include": True})  # report the exact cost in usage.cost
        if effort is not None:
            extra.setdefault("reasoning", {"effort": effort})
        kwargs["extra_body"] = extra
        return kwargs
