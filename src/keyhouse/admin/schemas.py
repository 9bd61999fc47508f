"""Request and response models of the admin API.

Requests forbid unknown fields, so a PATCH carrying ``kek_version`` or ``id`` is refused
rather than ignored. No response model has a secret field: a key is shown by its masks.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from keyhouse.text_rules import MESSAGE, find_bad_text


def _storable(value: str) -> str:
    if find_bad_text(value):
        raise ValueError(MESSAGE)
    return value


# Dict keys and values checked where they are, so a 422 names "credentials.api_key".
Storable = AfterValidator(_storable)

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
Description = Annotated[str, StringConstraints(max_length=500)]
# Aliases are the model names agents and SDKs have built in ("claude-sonnet-4-5",
# "gpt-5-codex", "openai/gpt-4.1", "llama3.2:latest"), so ':', '/' and '@' are allowed.
ALIAS_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}$"
Alias = Annotated[str, StringConstraints(pattern=ALIAS_PATTERN)]
Aliases = Annotated[list[Alias], Field(max_length=20)]
# A service-account JSON is ~2.5 KB; 16 KB leaves room and bounds what a caller can store.
SecretValue = Annotated[str, StringConstraints(max_length=16384), Storable]
ConfigValue = Annotated[str, StringConstraints(max_length=2048), Storable]
FieldName = Annotated[str, StringConstraints(max_length=64), Storable]
MAX_FIELDS = 16
Secrets = Annotated[dict[FieldName, SecretValue], Field(max_length=MAX_FIELDS)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: object) -> object:
        # Every string field, dict key and list item of every request, present or future.
        if find_bad_text(value):
            raise ValueError(MESSAGE)
        return value


USD = Annotated[float, Field(gt=0, le=1_000_000)]
PerMinute = Annotated[int, Field(ge=1, le=100_000_000)]


class BudgetIn(Strict):
    usd: USD
    period: Literal["day", "week", "month"] = "month"
    action: Literal["reject", "alert"] = "reject"


class LimitsIn(Strict):
    """Limits of a token, an endpoint or a key; every one set must allow a call."""

    requests_per_minute: PerMinute | None = None
    tokens_per_minute: PerMinute | None = None
    max_concurrent: Annotated[int, Field(ge=1, le=100_000)] | None = None
    budget: BudgetIn | None = None


def limits_json(limits: LimitsIn | None) -> dict[str, object] | None:
    """What the ``limits`` column stores: only the limits that are set; None for none."""
    if limits is None:
        return None
    data = limits.model_dump(exclude_none=True)
    return data or None


class RateUse(BaseModel):
    limit: int
    remaining: int
    reset_seconds: float


class ConcurrentUse(BaseModel):
    limit: int
    in_use: int


class BudgetUse(BaseModel):
    usd: float
    period: str
    action: str
    period_start: datetime
    spent_usd: float  # settled cost plus the reservations of calls still running


class SubjectUse(BaseModel):
    scope: Literal["token", "endpoint", "key"]
    id: str
    name: str
    requests: RateUse | None = None
    tokens: RateUse | None = None
    concurrent: ConcurrentUse | None = None
    budget: BudgetUse | None = None


class LimitsUse(BaseModel):
    store: str  # "memory" or "redis"
    shared: bool  # False: each replica counts on its own, and this is one replica's view
    reachable: bool
    subjects: list[SubjectUse]


class KeyCreate(Strict):
    name: Name
    provider: Annotated[str, StringConstraints(max_length=64)]
    auth_method: Annotated[str, StringConstraints(max_length=64)] | None = None
    credentials: Secrets = {}
    config: Annotated[dict[FieldName, ConfigValue], Field(max_length=MAX_FIELDS)] = {}
    description: Description = ""
    rotate_after_days: Annotated[int, Field(ge=1, le=3650)] | None = None
    limits: LimitsIn | None = None


class CredentialVersion(BaseModel):
    version: int
    masked: dict[str, str]
    created_at: datetime
    replaced_at: datetime | None
    current: bool


class CredentialVersionList(BaseModel):
    versions: list[CredentialVersion]


class Rollback(Strict):
    version: Annotated[int, Field(ge=1)]


class VerifyResult(BaseModel):
    status: Literal["ok", "rejected", "unreachable", "error", "unsupported"]
    message: str


class KeyUpdate(Strict):
    name: Name | None = None
    description: Description | None = None
    credentials: Secrets | None = None
    config: Annotated[dict[FieldName, ConfigValue | None], Field(max_length=MAX_FIELDS)] | None = (
        None
    )
    # 0 turns the rotation reminder off.
    rotate_after_days: Annotated[int, Field(ge=0, le=3650)] | None = None
    # Replaces the key's limits; null or {} removes them.
    limits: LimitsIn | None = None


class KeyCheck(Strict):
    """Changes to test with the provider before saving them (``POST .../verify``)."""

    credentials: Annotated[dict[str, SecretValue], Field(max_length=MAX_FIELDS)] | None = None
    config: Annotated[dict[str, ConfigValue | None], Field(max_length=MAX_FIELDS)] | None = None


class Ref(BaseModel):
    id: str
    name: str


class UsageWindow(BaseModel):
    """A key's or token's calls over the last 7 days (from the usage records)."""

    requests: int = 0
    errors: int = 0
    cost_usd: float = 0.0


class KeyView(BaseModel):
    id: str
    name: str
    description: str
    provider: str
    provider_display_name: str
    auth_method: str
    masked: dict[str, str]
    config: dict[str, str]
    endpoints: list[Ref]
    created_at: datetime
    updated_at: datetime
    credential_updated_at: datetime
    rotate_after_days: int | None
    credential_version: int
    credential_age_days: int
    rotation_due: bool
    limits: LimitsIn | None = None
    last_used_at: datetime | None = None
    usage_7d: UsageWindow = Field(default_factory=UsageWindow)
    version: int


class KeyList(BaseModel):
    keys: list[KeyView]


PerMillion = Annotated[float, Field(ge=0, le=100_000)]


class TargetPrice(Strict):
    """The target's own price in USD per million tokens, instead of genai-prices'."""

    input_per_mtok: PerMillion
    output_per_mtok: PerMillion
    cached_input_per_mtok: PerMillion | None = None


class TargetIn(Strict):
    key_id: Annotated[str, StringConstraints(max_length=36)]
    model: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    weight: Annotated[int, Field(ge=1, le=100)] = 1
    role: Literal["primary", "fallback"] = "primary"
    price: TargetPrice | None = None


Targets = Annotated[list[TargetIn], Field(min_length=1, max_length=10)]


class EndpointCreate(Strict):
    name: Name
    description: Description = ""
    task: Literal["chat", "embeddings"] = "chat"
    targets: Targets
    aliases: Aliases = []
    timeout_seconds: Annotated[float, Field(gt=0, le=600)] = 60.0
    connect_timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 5.0
    max_retries: Annotated[int, Field(ge=0, le=5)] = 1
    limits: LimitsIn | None = None


class EndpointUpdate(Strict):
    name: Name | None = None
    description: Description | None = None
    task: Literal["chat", "embeddings"] | None = None
    targets: Targets | None = None
    aliases: Aliases | None = None
    timeout_seconds: Annotated[float, Field(gt=0, le=600)] | None = None
    connect_timeout_seconds: Annotated[float, Field(gt=0, le=60)] | None = None
    max_retries: Annotated[int, Field(ge=0, le=5)] | None = None
    # Replaces the endpoint's limits; null or {} removes them.
    limits: LimitsIn | None = None


class TargetView(BaseModel):
    key_id: str | None
    key_name: str | None
    provider: str | None
    model: str
    weight: int
    role: str
    price: TargetPrice | None = None


class EndpointView(BaseModel):
    id: str
    name: str
    description: str
    task: str
    targets: list[TargetView]
    aliases: list[str] = []
    timeout_seconds: float
    connect_timeout_seconds: float
    max_retries: int
    limits: LimitsIn | None = None
    created_at: datetime
    updated_at: datetime
    version: int


class EndpointList(BaseModel):
    endpoints: list[EndpointView]


class AccessTokenCreate(Strict):
    name: Name
    endpoints: Annotated[list[Name], Field(max_length=100)] | None = None
    expires_at: datetime | None = None
    limits: LimitsIn | None = None


class AccessTokenUpdate(Strict):
    """Fields left out stay as they are; ``expires_at: null`` makes the token not expire,
    ``endpoints: null`` lets it call every endpoint, ``limits: null`` removes its limits."""

    name: Name | None = None
    endpoints: Annotated[list[Name], Field(max_length=100)] | None = None
    expires_at: datetime | None = None
    limits: LimitsIn | None = None


MAX_GRACE_SECONDS = 30 * 24 * 3600


class AccessTokenRotate(Strict):
    # How long the replaced secret keeps working; 0 ends it at once.
    grace_seconds: Annotated[int, Field(ge=0, le=MAX_GRACE_SECONDS)] = 0


class AccessTokenView(BaseModel):
    id: str
    name: str
    prefix: str
    endpoints: list[str] | None
    created_at: datetime
    expires_at: datetime | None = None
    limits: LimitsIn | None = None
    rotated_at: datetime | None = None
    # While a rotation's grace lasts: until when the replaced secret still works.
    previous_valid_until: datetime | None = None
    last_used_at: datetime | None = None
    usage_7d: UsageWindow = Field(default_factory=UsageWindow)


class AccessTokenCreated(AccessTokenView):
    token: str  # shown once, here (and at rotation), and never again


class AccessTokenList(BaseModel):
    access_tokens: list[AccessTokenView]


class FieldView(BaseModel):
    name: str
    label: str
    required: bool
    secret: bool
    kind: str
    placeholder: str
    help: str
    default: str | None


class AuthMethodView(BaseModel):
    id: str
    label: str
    secret_fields: list[FieldView]
    config_fields: list[FieldView]
    # Keyless: acts as the server's own cloud identity (needs the operator's opt-in).
    ambient: bool = False
    notice: str = ""


class ProviderView(BaseModel):
    id: str
    display_name: str
    chat: bool
    embeddings: bool
    default_base_url: str | None
    auth_methods: list[AuthMethodView]


class ProviderList(BaseModel):
    providers: list[ProviderView]


class AuditEvent(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    target_type: str
    target_id: str | None
    target_name: str | None
    details: dict[str, object]


class AuditList(BaseModel):
    events: list[AuditEvent]


class SessionCreate(Strict):
    token: Annotated[str, StringConstraints(max_length=512)]


class SessionView(BaseModel):
    signed_in: bool
    expires_at: datetime | None = None
