"""`azure_openai`: Azure OpenAI through the official `openai` SDK (`AzureOpenAI`).

`model_name` is the deployment name. Endpoint from `azure_endpoint` or
$AZURE_OPENAI_ENDPOINT, key from `api_key` or $AZURE_OPENAI_API_KEY (or pass
`azure_ad_token_provider=` for Entra ID), API version from `api_version` or
$OPENAI_API_VERSION. Deployment names are free-form, so cost is looked up under the
model the response reports (e.g. "gpt-4o-2024-08-06") when the deployment name is unknown.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

import openai

from rlm.clients.openai import OpenAIClient
from rlm.errors import ConfigurationError

__all__ = ["AzureOpenAIClient"]

DEFAULT_API_VERSION = "2024-10-21"


class AzureOpenAIClient(OpenAIClient):
    backend: ClassVar[str] = "azure_openai"
    api_key_env: ClassVar[str | None] = "AZURE_OPENAI_API_KEY"

    def __init__(
        self,
        model_name: str | None = None,
        api_key: str | None = None,
        azure_endpoint: str | None = None,
        api_version: str | None = None,
        azure_deployment: str | None = None,
        **kwargs: Any,
    ):
        self._azure_endpoint = azure_endpoint or os.environ.get("AZURE_OPENAI_ENDPOINT")
        if not self._azure_endpoint and not kwargs.get("base_url"):
            raise ConfigurationError(
                "backend 'azure_openai' needs an endpoint: set AZURE_OPENAI_ENDPOINT or "
                "backend_kwargs['azure_endpoint'] (https://<resource>.openai.azure.com)"
            )
        self._api_version = (
            api_version or os.environ.get("OPENAI_API_VERSION") or DEFAULT_API_VERSION
        )
        self._azure_deployment = azure_deployment
        # Entra ID (AAD) auth replaces the key.
        self.api_key_required = not (
            kwargs.get("azure_ad_token") or kwargs.get("azure_ad_token_provider")
        )
        super().__init__(model_name or azure_deployment, api_key=api_key, **kwargs)

    def _constructor_kwargs(self) -> dict[str, Any]:
        kwargs = super()._constructor_kwargs()
        if not self._api_key:
            kwargs.pop("api_key", None)
        kwargs["api_version"] = self._api_version
        if "base_url" not in kwargs:
            kwargs["azure_endpoint"] = self._azure_endpoint
            if self._azure_deployment:
                kwargs["azure_deployment"] = self._azure_deployment
        return kwargs

    def _make_client(self, cls: type) -> Any:
        azure_cls = openai.AsyncAzureOpenAI if cls is openai.AsyncOpenAI else openai.AzureOpenAI
        return azure_cls(**self._constructor_kwargs())
