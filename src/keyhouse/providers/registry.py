"""Which adapter serves which provider and auth method.

Adapters are imported lazily by name so that a provider's heavy dependencies (botocore,
google-auth) load only when a key of that provider is first used.
"""

from __future__ import annotations

import importlib

from keyhouse.errors import Unsupported
from keyhouse.providers.base import ProviderAdapter
from keyhouse.providers.catalog import ProviderSpec

ADAPTERS: dict[str, str] = {
    "openai": "keyhouse.providers.openai:OpenAIAdapter",
    "databricks": "keyhouse.providers.openai:DatabricksAdapter",
    "azure": "keyhouse.providers.azure:AzureOpenAIAdapter",
    "anthropic": "keyhouse.providers.anthropic:AnthropicAdapter",
    "gemini": "keyhouse.providers.gemini:GeminiAdapter",
    "vertex": "keyhouse.providers.vertex:VertexAdapter",
    "bedrock": "keyhouse.providers.bedrock:BedrockAdapter",
    # Keyless auth methods: the provider's adapter with a short-lived credential source.
    "bedrock_keyless": "keyhouse.providers.credentials.adapters:KeylessBedrockAdapter",
    "vertex_adc": "keyhouse.providers.credentials.adapters:AdcVertexAdapter",
    "azure_managed_identity": "keyhouse.providers.credentials.adapters:ManagedIdentityAzureAdapter",
    "databricks_oauth": "keyhouse.providers.credentials.adapters:OAuthDatabricksAdapter",
}


class Adapters:
    """One adapter instance per (provider, auth method), made on first use. The app
    factory makes one of these (adapters hold token caches and signers), so two apps in
    one process share nothing."""

    def __init__(self) -> None:
        self._instances: dict[tuple[str, str], ProviderAdapter] = {}

    def get(self, spec: ProviderSpec, auth_method: str) -> ProviderAdapter:
        hit = self._instances.get((spec.id, auth_method))
        if hit is not None:
            return hit
        method = spec.auth_method(auth_method)
        name = (method.adapter if method and method.adapter else None) or spec.adapter
        target = ADAPTERS.get(name)
        if target is None:
            raise Unsupported(f"No adapter serves provider {spec.id!r}.")
        module_name, _, cls_name = target.partition(":")
        cls = getattr(importlib.import_module(module_name), cls_name)
        adapter: ProviderAdapter = cls(spec)
        self._instances[(spec.id, auth_method)] = adapter
        return adapter
