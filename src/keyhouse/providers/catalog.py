"""The provider catalog: data only.

Each provider is a row: its auth methods with their secret and config fields, the wire
format (``adapter``) that serves it, and what it can do. An OpenAI-compatible vendor is
one ``vendor(...)`` line. The web UI builds its forms from this table through
``GET /api/v1/providers``, so labels and ``required`` flags here are the product's. The
parts several rows share (field builders, common fields) are in ``catalog_fields``.
"""

from __future__ import annotations

from keyhouse.providers.catalog_fields import (
    API_KEY,
    AZURE_API_VERSION,
    AZURE_DEPLOYMENT,
    AZURE_ENDPOINT,
    BASE_URL,
    BEDROCK_CONFIG,
    DATABRICKS_HOST,
    VERTEX_CONFIG,
    ambient,
    config,
    secret,
    vendor,
)

# The row types are the catalog's public face: importers name them from here.
from keyhouse.providers.catalog_spec import AuthMethod as AuthMethod
from keyhouse.providers.catalog_spec import FieldSpec as FieldSpec
from keyhouse.providers.catalog_spec import ProviderSpec as ProviderSpec

PROVIDERS: tuple[ProviderSpec, ...] = (
    ProviderSpec(
        id="openai",
        display_name="OpenAI",
        adapter="openai",
        default_base_url="https://api.openai.com/v1",
        embeddings=True,
        auth_methods=(
            AuthMethod(
                "api_key",
                "Standard API key",
                (API_KEY,),
                (
                    BASE_URL,
                    config("organization", "Organization ID", placeholder="org-..."),
                    config("project", "Project ID", placeholder="proj_..."),
                ),
            ),
            AuthMethod(
                "azure",
                "Azure OpenAI (API key)",
                (API_KEY,),
                (
                    AZURE_ENDPOINT,
                    AZURE_API_VERSION,
                    AZURE_DEPLOYMENT,
                ),
                adapter="azure",
            ),
            AuthMethod(
                "azure_entra_id",
                "Azure OpenAI (Entra ID service principal)",
                (secret("client_secret", "Client secret"),),
                (
                    config("tenant_id", "Tenant ID", required=True, destination=True),
                    config("client_id", "Client ID", required=True),
                    AZURE_ENDPOINT,
                    AZURE_API_VERSION,
                    AZURE_DEPLOYMENT,
                    config(
                        "authority_url",
                        "Authority URL",
                        kind="url",
                        help="Leave empty for https://login.microsoftonline.com.",
                    ),
                ),
                adapter="azure",
            ),
            ambient(
                "managed_identity",
                "Azure OpenAI (managed identity)",
                "Azure",
                (secret("client_id", "Client ID", required=False, kind="text"),),
                (
                    AZURE_ENDPOINT,
                    AZURE_API_VERSION,
                    AZURE_DEPLOYMENT,
                ),
                adapter="azure_managed_identity",
            ),
        ),
    ),
    ProviderSpec(
        id="anthropic",
        display_name="Anthropic",
        adapter="anthropic",
        default_base_url="https://api.anthropic.com",
        auth_methods=(AuthMethod("api_key", "API key", (API_KEY,), (BASE_URL,)),),
    ),
    ProviderSpec(
        id="gemini",
        display_name="Google Gemini",
        adapter="gemini",
        default_base_url="https://generativelanguage.googleapis.com",
        embeddings=True,
        auth_methods=(AuthMethod("api_key", "API key", (API_KEY,), (BASE_URL,)),),
    ),
    ProviderSpec(
        id="vertex_ai",
        display_name="Google Vertex AI",
        adapter="vertex",
        embeddings=True,
        auth_methods=(
            AuthMethod(
                "service_account",
                "Service account",
                (secret("service_account_json", "Service account JSON", kind="json"),),
                VERTEX_CONFIG,
            ),
            ambient(
                "adc",
                "Application Default Credentials",
                "Google Cloud",
                (),
                VERTEX_CONFIG,
                adapter="vertex_adc",
            ),
        ),
    ),
    ProviderSpec(
        id="bedrock",
        display_name="Amazon Bedrock",
        adapter="bedrock",
        embeddings=True,
        auth_methods=(
            AuthMethod(
                "access_keys",
                "Access keys",
                (
                    secret("aws_access_key_id", "Access key ID"),
                    secret("aws_secret_access_key", "Secret access key"),
                    secret("aws_session_token", "Session token", required=False),
                ),
                BEDROCK_CONFIG,
            ),
            AuthMethod("api_key", "Bedrock API key", (API_KEY,), BEDROCK_CONFIG),
            ambient(
                "default_chain",
                "Default credential chain",
                "AWS",
                (),
                BEDROCK_CONFIG,
                adapter="bedrock_keyless",
            ),
            ambient(
                "assume_role",
                "Assume an IAM role",
                "AWS",
                (
                    secret(
                        "role_arn",
                        "Role ARN",
                        kind="text",
                        placeholder="arn:aws:iam::123456789012:role/keyhouse",
                    ),
                    secret("external_id", "External ID", required=False),
                    secret("session_name", "Session name", required=False, kind="text"),
                    # Without these, the role is assumed with the server's default chain.
                    secret("aws_access_key_id", "Access key ID (optional)", required=False),
                    secret("aws_secret_access_key", "Secret access key (optional)", required=False),
                ),
                BEDROCK_CONFIG,
                adapter="bedrock_keyless",
            ),
        ),
    ),
    ProviderSpec(
        id="databricks",
        display_name="Databricks",
        adapter="databricks",
        embeddings=True,
        auth_methods=(
            AuthMethod(
                "token",
                "Personal access token",
                (secret("token", "Access token"),),
                (DATABRICKS_HOST,),
            ),
            ambient(
                "oauth_m2m",
                "Service principal (OAuth M2M)",
                "Databricks",
                (secret("client_secret", "Client secret"),),
                (
                    DATABRICKS_HOST,
                    config("client_id", "Client ID", required=True),
                ),
                adapter="databricks_oauth",
                notice="Exchanges the service principal's secret for short-lived workspace "
                "tokens. Listed with the keyless methods: allowed only when the "
                "operator sets KEYHOUSE_ALLOW_AMBIENT_CREDENTIALS=true.",
            ),
        ),
    ),
    ProviderSpec(
        id="ollama",
        display_name="Ollama",
        adapter="openai",
        embeddings=True,
        auth_methods=(
            AuthMethod(
                "none",
                "No authentication",
                (),
                (
                    config(
                        "base_url",
                        "Base URL",
                        required=True,
                        kind="url",
                        placeholder="http://localhost:11434/v1",
                        help="Ollama's default, http://localhost:11434/v1, is a loopback "
                        "address: the server needs KEYHOUSE_ALLOW_PRIVATE_UPSTREAMS=true "
                        "for it.",
                    ),
                ),
            ),
        ),
    ),
    ProviderSpec(
        id="openai_compatible",
        display_name="Custom OpenAI-compatible",
        adapter="openai",
        embeddings=True,
        auth_methods=(
            AuthMethod(
                "api_key",
                "API key",
                (secret("api_key", "API key", required=False),),
                (
                    config(
                        "base_url",
                        "Base URL",
                        required=True,
                        kind="url",
                        placeholder="https://llm.example.com/v1",
                    ),
                ),
            ),
        ),
    ),
    vendor("mistral", "Mistral AI", "https://api.mistral.ai/v1", embeddings=True),
    vendor("groq", "Groq", "https://api.groq.com/openai/v1"),
    vendor("deepseek", "DeepSeek", "https://api.deepseek.com/v1"),
    vendor("xai", "xAI", "https://api.x.ai/v1"),
    vendor("together", "Together AI", "https://api.together.xyz/v1", embeddings=True),
    vendor("fireworks", "Fireworks AI", "https://api.fireworks.ai/inference/v1", embeddings=True),
    vendor("openrouter", "OpenRouter", "https://openrouter.ai/api/v1"),
    vendor("perplexity", "Perplexity", "https://api.perplexity.ai"),
    vendor("cerebras", "Cerebras", "https://api.cerebras.ai/v1"),
    vendor(
        "cohere",
        "Cohere (compatibility API)",
        "https://api.cohere.ai/compatibility/v1",
        embeddings=True,
    ),
    vendor("nvidia_nim", "NVIDIA NIM", "https://integrate.api.nvidia.com/v1", embeddings=True),
    vendor("deepinfra", "DeepInfra", "https://api.deepinfra.com/v1/openai", embeddings=True),
    vendor("sambanova", "SambaNova", "https://api.sambanova.ai/v1"),
    vendor("hyperbolic", "Hyperbolic", "https://api.hyperbolic.xyz/v1"),
    vendor("novita", "Novita AI", "https://api.novita.ai/v3/openai"),
)

BY_ID: dict[str, ProviderSpec] = {p.id: p for p in PROVIDERS}


def get(provider_id: str) -> ProviderSpec | None:
    return BY_ID.get(provider_id)
