"""Tables. Secrets live only in ``api_keys.ciphertext`` (sealed) — never in any other
column, audit row or log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from keyhouse.vault.envelope import Sealed


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """SQLite forgets time zones; give every datetime back as aware UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, datetime: UTCDateTime}


class KekVersionRow(Base):
    __tablename__ = "kek_versions"
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kcv: Mapped[bytes] = mapped_column(LargeBinary(32))
    source: Mapped[str] = mapped_column(String(32))
    salt: Mapped[bytes | None] = mapped_column(LargeBinary(64))
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SealedCredential:
    """The columns of a sealed credential, shared by a key and its kept versions."""

    secret_fields: Mapped[str] = mapped_column(String(500))
    format: Mapped[int] = mapped_column(Integer)
    kek_version: Mapped[int] = mapped_column(Integer, index=True)
    wrapped_dek: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    masked: Mapped[dict[str, Any]] = mapped_column(default=dict)

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(f for f in self.secret_fields.split(",") if f)

    def sealed(self) -> Sealed:
        return Sealed(self.format, self.kek_version, self.wrapped_dek, self.ciphertext)

    def store_sealed(self, sealed: Sealed, masked: dict[str, str] | None = None) -> None:
        self.format, self.kek_version = sealed.format, sealed.kek_version
        self.wrapped_dek, self.ciphertext = sealed.wrapped_dek, sealed.ciphertext
        if masked is not None:
            self.secret_fields = ",".join(sorted(masked))
            self.masked = dict(masked)


class ApiKeyRow(SealedCredential, Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    provider: Mapped[str] = mapped_column(String(64))
    auth_method: Mapped[str] = mapped_column(String(64))
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)
    credential_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    rotate_after_days: Mapped[int | None] = mapped_column(Integer)
    # Rate limits and budget (keyhouse.limits.spec); None: no limit of its own.
    limits: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    credential_updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Compare-and-set: every UPDATE and DELETE of the row carries "AND version = <the
    # version read>", so a writer holding a stale row changes nothing (412), on every store.
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}


class ApiKeyVersionRow(SealedCredential, Base):
    """A credential a key used before: kept sealed (the same AAD as its key row, so only
    that key can take it back), for rollback. The last few are kept."""

    __tablename__ = "api_key_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), index=True)
    credential_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    replaced_at: Mapped[datetime] = mapped_column(default=utcnow)


class EndpointRow(Base):
    __tablename__ = "endpoints"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    task: Mapped[str] = mapped_column(String(32), default="chat")
    timeout_seconds: Mapped[float] = mapped_column(Float, default=60.0)
    connect_timeout_seconds: Mapped[float] = mapped_column(Float, default=5.0)
    max_retries: Mapped[int] = mapped_column(Integer, default=1)
    limits: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    targets: Mapped[list[EndpointTargetRow]] = relationship(
        back_populates="endpoint",
        cascade="all, delete-orphan",
        order_by="EndpointTargetRow.position",
        lazy="selectin",
    )
    aliases: Mapped[list[EndpointAliasRow]] = relationship(
        cascade="all, delete-orphan",
        order_by="EndpointAliasRow.position",
        lazy="selectin",
    )
    # Compare-and-set: every UPDATE and DELETE of the row carries "AND version = <the
    # version read>", so a writer holding a stale row changes nothing (412), on every store.
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}


class EndpointAliasRow(Base):
    """Another model name an endpoint answers to. The primary key keeps aliases unique
    among themselves; the endpoint service keeps them apart from endpoint names."""

    __tablename__ = "endpoint_aliases"
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    endpoint_id: Mapped[str] = mapped_column(
        ForeignKey("endpoints.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)


class EndpointTargetRow(Base):
    __tablename__ = "endpoint_targets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    endpoint_id: Mapped[str] = mapped_column(
        ForeignKey("endpoints.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    # SET NULL: a force-deleted key leaves its endpoints answering 503, not vanishing.
    key_id: Mapped[str | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL"), index=True
    )
    model: Mapped[str] = mapped_column(String(256))
    weight: Mapped[int] = mapped_column(Integer, default=1)
    role: Mapped[str] = mapped_column(String(16), default="primary")
    # {input_per_mtok, output_per_mtok, cached_input_per_mtok?}: wins over genai-prices.
    price: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    endpoint: Mapped[EndpointRow] = relationship(back_populates="targets")


class AccessTokenRow(Base):
    __tablename__ = "access_tokens"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    endpoints: Mapped[list[str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column()
    limits: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # After a rotation the replaced secret keeps working until previous_expires_at.
    previous_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    previous_expires_at: Mapped[datetime | None] = mapped_column()
    rotated_at: Mapped[datetime | None] = mapped_column()


class AdminTokenRow(Base):
    __tablename__ = "admin_tokens"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SessionRow(Base):
    __tablename__ = "sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class AuditEventRow(Base):
    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(36))
    target_name: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ConfigStateRow(Base):
    """One row: a counter every admin write bumps, which replicas poll."""

    __tablename__ = "config_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(Integer, default=0)


Index("ix_audit_target", AuditEventRow.target_type, AuditEventRow.target_id)


LATENCY_BUCKETS = 24  # see keyhouse.usage.record.LATENCY_BOUNDS_MS


class UsageRecordRow(Base):
    """One gateway call: who, through what, how it went, what it cost. Never content.

    ``id`` is made by the replica that served the call, so a batch retried after an
    unknown commit outcome inserts nothing twice (``ON CONFLICT DO NOTHING``)."""

    __tablename__ = "usage_records"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[datetime] = mapped_column()
    operation: Mapped[str] = mapped_column(String(16))
    endpoint_id: Mapped[str | None] = mapped_column(String(36))
    endpoint_name: Mapped[str | None] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(36))
    key_name: Mapped[str | None] = mapped_column(String(64))
    credential_version: Mapped[int | None] = mapped_column(Integer)
    provider: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(256))
    token_id: Mapped[str | None] = mapped_column(String(36))
    token_name: Mapped[str | None] = mapped_column(String(64))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[int] = mapped_column(Integer)
    error_code: Mapped[str | None] = mapped_column(String(64))
    stream: Mapped[bool] = mapped_column(Boolean, default=False)
    latency_ms: Mapped[float] = mapped_column(Float)
    ttfb_ms: Mapped[float | None] = mapped_column(Float)
    input_tokens: Mapped[int | None] = mapped_column(Integer)
    output_tokens: Mapped[int | None] = mapped_column(Integer)
    cached_input_tokens: Mapped[int | None] = mapped_column(Integer)
    cache_write_tokens: Mapped[int | None] = mapped_column(Integer)
    cost_usd: Mapped[float | None] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    fallback_used: Mapped[bool] = mapped_column(Boolean, default=False)


# The newest-first pages and every filter of /api/v1/usage/requests, and last_used_at.
Index("ix_usage_records_at", UsageRecordRow.at)
Index("ix_usage_records_endpoint_at", UsageRecordRow.endpoint_id, UsageRecordRow.at)
Index("ix_usage_records_key_at", UsageRecordRow.key_id, UsageRecordRow.at)
Index("ix_usage_records_token_at", UsageRecordRow.token_id, UsageRecordRow.at)


class UsageCounters:
    """Counters per period and (endpoint, key, token, model, provider), kept by the writer
    in the same transaction as the records it counts: a 30-day report reads these, not a
    million records. Absent dimensions are '' (a primary key column cannot be NULL).
    ``hour`` is hours since the epoch: the hour counted, or the first hour of the day."""

    hour: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    endpoint_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    token_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    model: Mapped[str] = mapped_column(String(256), primary_key=True)
    provider: Mapped[str] = mapped_column(String(64), primary_key=True)
    endpoint_name: Mapped[str] = mapped_column(String(64), default="")
    key_name: Mapped[str] = mapped_column(String(64), default="")
    token_name: Mapped[str] = mapped_column(String(64), default="")
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    errors: Mapped[int] = mapped_column(BigInteger, default=0)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cached_input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_write_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    last_at: Mapped[datetime] = mapped_column()


class UsageHourlyRow(UsageCounters, Base):
    __tablename__ = "usage_hourly"


class UsageDailyRow(UsageCounters, Base):
    """The same counters per UTC day: the whole days of a long report come from here."""

    __tablename__ = "usage_daily"


# A latency histogram per row (requests per bucket), from which p50/p95 are read.
for _table in (UsageHourlyRow, UsageDailyRow):
    for _bucket in range(LATENCY_BUCKETS):
        setattr(
            _table,
            f"lat_{_bucket:02d}",
            mapped_column(f"lat_{_bucket:02d}", Integer, default=0, nullable=False),
        )
    _name = _table.__tablename__
    Index(f"ix_{_name}_endpoint", _table.endpoint_id, _table.hour)
    Index(f"ix_{_name}_key", _table.key_id, _table.hour)
    Index(f"ix_{_name}_token", _table.token_id, _table.hour)
del _bucket, _table, _name
