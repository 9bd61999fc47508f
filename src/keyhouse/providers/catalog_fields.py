"""The parts several catalog rows share: the field and auth-method builders, the fields
more than one provider asks for, and ``vendor`` (an OpenAI-compatible vendor in one line).

Separate from ``catalog`` so that the catalog reads as its rows, one provider each;
what a row's parts look like is ``catalog_spec``'s.
"""

from __future__ import annotations

from keyhouse.providers.catalog_spec import AuthMethod, FieldSpec, ProviderSpec

REGION_PATTERN = r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$"
LOCATION_PATTERN = r"^(global|[a-z]+(-[a-z]+)*\d{0,2})$"


def secret(
    name: str, label: str, required: bool = True, kind: str = "password", placeholder: str = ""
) -> FieldSpec:
    return FieldSpec(
        name, label, required=required, secret=True, kind=kind, placeholder=placeholder
    )


def config(
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


API_KEY = secret("api_key", "API key")
BASE_URL = config("base_url", "Base URL", kind="url", help="Leave empty for the default.")
AZURE_ENDPOINT = config(
    "endpoint_url",
    "Azure endpoint URL",
    required=True,
    kind="url",
    placeholder="https://my-resource.openai.azure.com",
)
AZURE_API_VERSION = config(
    "api_version", "API version", required=True, placeholder="2024-10-21", default="2024-10-21"
)
AZURE_DEPLOYMENT = config(
    "deployment",
    "Deployment name",
    help="Leave empty to use the endpoint's model as the deployment.",
)


AMBIENT_NOTICE = (
    "Uses this server's own {cloud} identity: every admin can make keys that act as it. "
    "Allowed only when the operator sets KEYHOUSE_ALLOW_AMBIENT_CREDENTIALS=true."
)


def ambient(
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


def vendor(id_: str, name: str, base_url: str, embeddings: bool = False) -> ProviderSpec:
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
    config(
        "region",
        "Region",
        required=True,
        placeholder="us-east-1",
        pattern=REGION_PATTERN,
        destination=True,
    ),
    config(
        "base_url",
        "Endpoint URL",
        kind="url",
        help="Leave empty for https://bedrock-runtime.{region}.amazonaws.com.",
    ),
)
VERTEX_CONFIG = (
    config("project_id", "Project ID", required=True),
    config(
        "location",
        "Location",
        placeholder="us-central1",
        default="us-central1",
        pattern=LOCATION_PATTERN,
        destination=True,
    ),
    config(
        "base_url",
        "API base URL",
        kind="url",
        help="Leave empty for https://{location}-aiplatform.googleapis.com.",
    ),
)
DATABRICKS_HOST = config(
    "host",
    "Workspace URL",
    required=True,
    kind="url",
    placeholder="https://adb-123.azuredatabricks.net",
)
