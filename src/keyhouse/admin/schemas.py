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


class KeyCreate(Strict):
    name: Name
    provider: Annotated[str, StringConstraints(max_length=64)]
    auth_method: Annotated[str, StringConstraints(max_length=64)] | None = None
    credentials: Secrets = {}
    config: Annotated[dict[FieldName, ConfigValue], Field(max_length=MAX_FIELDS)] = {}
    description: Description = ""
    rotate_after_days: Annotated[int, Field(ge=1, le=3650)] | None = None


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
    config: Annotated[dict[FieldName, ConfigValue | None],
                      Field(max_length=MAX_FIELDS)] | None = None
    # 0 turns the rotation reminder off.
    rotate_after_days: Annotated[int, Field(ge=0, le=3650)] | None = None


class KeyCheck(Strict):
    """Changes to test with the provider before saving them (``POST .../verify``)."""

    credentials: Annotated[dict[str, SecretValue], Field(max_length=MAX_FIELDS)] | None = None
    config: Annotated[dict[str, ConfigValue | None], Field(max_length=MAX_FIELDS)] | None = None


class Ref(BaseModel):
    id: str
    name: str


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
    version: int


class KeyList(BaseModel):
    keys: list[KeyView]


class TargetIn(Strict):
    key_id: Annotated[str, StringConstraints(max_length=36)]
    model: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    weight: Annotated[int, Field(ge=1, le=100)] = 1
    role: Literal["primary", "fallback"] = "primary"


Targets = Annotated[list[TargetIn], Field(min_length=1, max_length=10)]


class EndpointCreate(Strict):
    name: Name
    description: Description = ""
    task: Literal["chat", "embeddings"] = "chat"
    targets: Targets
    timeout_seconds: Annotated[float, Field(gt=0, le=600)] = 60.0
    connect_timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 5.0
    max_retries: Annotated[int, Field(ge=0, le=5)] = 1


class EndpointUpdate(Strict):
    name: Name | None = None
    description: Description | None = None
    task: Literal["chat", "embeddings"] | None = None
    targets: Targets | None = None
    timeout_seconds: Annotated[float, Field(gt=0, le=600)] | None = None
    connect_timeout_seconds: Annotated[float, Field(gt=0, le=60)] | None = None
    max_retries: Annotated[int, Field(ge=0, le=5)] | None = None


class TargetView(BaseModel):
    key_id: str | None
    key_name: str | None
    provider: str | None
    model: str
    weight: int
    role: str


class EndpointView(BaseModel):
    id: str
    name: str
    description: str
    task: str
    targets: list[TargetView]
    timeout_seconds: float
    connect_timeout_seconds: float
    max_retries: int
    created_at: datetime
    updated_at: datetime
    version: int


class EndpointList(BaseModel):
    endpoints: list[EndpointView]


class AccessTokenCreate(Strict):
    name: Name
    endpoints: Annotated[list[Name], Field(max_length=100)] | None = None


class AccessTokenView(BaseModel):
    id: str
    name: str
    prefix: str
    endpoints: list[str] | None
    created_at: datetime


class AccessTokenCreated(AccessTokenView):
    token: str  # shown once, here, and never again


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
