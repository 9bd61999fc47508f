"""The provider catalog: data only.

Each provider is a row: its auth methods with their secret and config fields, the wire
format (``adapter``) that serves it, and what it can do. An OpenAI-compatible vendor is
one ``_vendor(...)`` line. The web UI builds its forms from this table through
``GET /api/v1/providers``, so labels and ``required`` flags here are the product's.
"""

from __future__ import annotations

# The row types are the catalog's public face: importers name them from here.
from keyhouse.providers.catalog_spec import AuthMethod as AuthMethod
from keyhouse.providers.catalog_spec import FieldSpec as FieldSpec
from keyhouse.providers.catalog_spec import ProviderSpec as ProviderSpec

REGION_PATTERN = r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$"
LOCATION_PATTERN = r"^(global|[a-z]+(-[a-z]+)*\d{0,2})$"


def _secret(
    name: str, label: str, required: bool = True, kind: str = "password", placeholder: str = ""
) -> FieldSpec:
    return FieldSpec(
        name, label, required=required, secret=True, kind=kind, placeholder=placeholder
    )


def _config(
    name: str,
    label: str,
    required: bool = False,
    kind: str = "text",
    placeholder: str = "",
    help: str = "",
    default: str | None = None,
    pattern: str | None = None,
    destination: bool | None = None,
) -> FieldSpec:
    # A URL always decides where the credential goes; other fields say so explicitly.
    return FieldSpec(
        name,
        label,
        required=required,
        kind=kind,
        placeholder=placeholder,
        help=help,
        default=default,
        pattern=pattern,
        destination=kind == "url" if destination is None else destination,
    )


API_KEY = _secret("api_key", "API key")
BASE_URL = _config("base_url", "Base URL", kind="url", help="Leave empty for the default.")
AZURE_ENDPOINT = _config(
    "endpoint_url",
    "Azure endpoint URL",
    required=True,
    kind="url",
    placeholder="https://my-resource.openai.azure.com",
)
AZURE_API_VERSION = _config(
    "api_version", "API version", required=True, placeholder="2024-10-21", default="2024-10-21"
)
AZURE_DEPLOYMENT = _config(
    "deployment",
    "Deployment name",
    help="Leave empty to use the endpoint's model as the deployment.",
)


AMBIENT_NOTICE = (
    "Uses this server's own {cloud} identity: every admin can make keys that act as it. "
    "Allowed only when the operator sets KEYHOUSE_ALLOW_AMBIENT_CREDENTIALS=true."
)


def _ambient(
    id_: str,
    label: str,
    cloud: str,
    secret_fields: tuple[FieldSpec, ...],
    config_fields: tuple[FieldSpec, ...],
    adapter: str | None = None,
    notice: str | None = None,
) -> AuthMethod:
    return AuthMethod(
        id_,
        label,
        secret_fields,
        config_fields,
        adapter=adapter,
        ambient=True,
        notice=notice or AMBIENT_NOTICE.format(cloud=cloud),
    )


def _vendor(id_: str, name: str, base_url: str, embeddings: bool = False) -> ProviderSpec:
    """An OpenAI-compatible vendor: one row, served by the OpenAI wire format."""
    return ProviderSpec(
        id=id_,
        display_name=name,
        adapter="openai",
        default_base_url=base_url,
        embeddings=embeddings,
        tags=("openai_compatible",),
        auth_methods=(AuthMethod("api_key", "API key", (API_KEY,), (BASE_URL,)),),
    )


BEDROCK_CONFIG = (
    _config(
        "region",
        "Region",
        required=True,
        placeholder="us-east-1",
        pattern=REGION_PATTERN,
        destination=True,
    ),
    _config(
        "base_url",
        "Endpoint URL",
        kind="url",
        help="Leave empty for https://bedrock-runtime.{region}.amazonaws.com.",
    ),
)
VERTEX_CONFIG = (
    _config("project_id", "Project ID", required=True),
    _config(
        "location",
        "Location",
        placeholder="us-central1",
        default="us-central1",
        pattern=LOCATION_PATTERN,
        destination=True,
    ),
    _config(
        "base_url",
        "API base URL",
        kind="url",
        help="Leave empty for https://{location}-aiplatform.googleapis.com.",
    ),
)
DATABRICKS_HOST = _config(
    "host",
    "Workspace URL",
    required=True,
    kind="url",
    placeholder="https://adb-123.azuredatabricks.net",
)

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
                    _config("organization", "Organization ID", placeholder="org-..."),
                    _config("project", "Project ID", placeholder="proj_..."),
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
                (_secret("client_secret", "Client secret"),),
                (
                    _config("tenant_id", "Tenant ID", required=True, destination=True),
                    _config("client_id", "Client ID", required=True),
                    AZURE_ENDPOINT,
                    AZURE_API_VERSION,
                    AZURE_DEPLOYMENT,
                    _config(
                        "authority_url",
                        "Authority URL",
                        kind="url",
                        help="Leave empty for https://login.microsoftonline.com.",
                    ),
                ),
                adapter="azure",
            ),
            _ambient(
                "managed_identity",
                "Azure OpenAI (managed identity)",
                "Azure",
                (_secret("client_id", "Client ID", required=False, kind="text"),),
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
                (_secret("service_account_json", "Service account JSON", kind="json"),),
                VERTEX_CONFIG,
            ),
            _ambient(
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
                    _secret("aws_access_key_id", "Access key ID"),
                    _secret("aws_secret_access_key", "Secret access key"),
                    _secret("aws_session_token", "Session token", required=False),
                ),
                BEDROCK_CONFIG,
            ),
            AuthMethod("api_key", "Bedrock API key", (API_KEY,), BEDROCK_CONFIG),
            _ambient(
                "default_chain",
                "Default credential chain",
                "AWS",
                (),
                BEDROCK_CONFIG,
                adapter="bedrock_keyless",
            ),
            _ambient(
                "assume_role",
                "Assume an IAM role",
                "AWS",
                (
                    _secret(
                        "role_arn",
                        "Role ARN",
                        kind="text",
                        placeholder="arn:aws:iam::123456789012:role/keyhouse",
                    ),
                    _secret("external_id", "External ID", required=False),
                    _secret("session_name", "Session name", required=False, kind="text"),
                    # Without these, the role is assumed with the server's default chain.
                    _secret("aws_access_key_id", "Access key ID (optional)", required=False),
                    _secret(
                        "aws_secret_access_key", "Secret access key (optional)", required=False
                    ),
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
                (_secret("token", "Access token"),),
                (DATABRICKS_HOST,),
            ),
            _ambient(
                "oauth_m2m",
                "Service principal (OAuth M2M)",
                "Databricks",
                (_secret("client_secret", "Client secret"),),
                (
                    DATABRICKS_HOST,
                    _config("client_id", "Client ID", required=True),
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
                    _config(
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
                (_secret("api_key", "API key", required=False),),
                (
                    _config(
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
    _vendor("mistral", "Mistral AI", "https://api.mistral.ai/v1", embeddings=True),
    _vendor("groq", "Groq", "https://api.groq.com/openai/v1"),
    _vendor("deepseek", "DeepSeek", "https://api.deepseek.com/v1"),
    _vendor("xai", "xAI", "https://api.x.ai/v1"),
    _vendor("together", "Together AI", "https://api.together.xyz/v1", embeddings=True),
    _vendor("fireworks", "Fireworks AI", "https://api.fireworks.ai/inference/v1", embeddings=True),
    _vendor("openrouter", "OpenRouter", "https://openrouter.ai/api/v1"),
    _vendor("perplexity", "Perplexity", "https://api.perplexity.ai"),
    _vendor("cerebras", "Cerebras", "https://api.cerebras.ai/v1"),
    _vendor(
        "cohere",
        "Cohere (compatibility API)",
        "https://api.cohere.ai/compatibility/v1",
        embeddings=True,
    ),
    _vendor("nvidia_nim", "NVIDIA NIM", "https://integrate.api.nvidia.com/v1", embeddings=True),
    _vendor("deepinfra", "DeepInfra", "https://api.deepinfra.com/v1/openai", embeddings=True),
    _vendor("sambanova", "SambaNova", "https://api.sambanova.ai/v1"),
    _vendor("hyperbolic", "Hyperbolic", "https://api.hyperbolic.xyz/v1"),
    _vendor("novita", "Novita AI", "https://api.novita.ai/v3/openai"),
)

BY_ID: dict[str, ProviderSpec] = {p.id: p for p in PROVIDERS}


def get(provider_id: str) -> ProviderSpec | None:
    return BY_ID.get(provider_id)
