"""What the gateway reads from the configuration cache.

The gateway never queries the database: it asks a ``Registry`` (held on
``app.state.registry``), which answers from memory and is refreshed by version when an
admin write happens on any replica.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from keyhouse.providers.base import Credential
from keyhouse.shared.principal import Principal

__all__ = ["Endpoint", "Principal", "Registry", "Role", "Target", "Task"]

Role = Literal["primary", "fallback"]
Task = Literal["chat", "embeddings"]


@dataclass(frozen=True, slots=True)
class Target:
    key_id: str | None  # None once its key was force-deleted: the target answers 503
    provider: str | None
    model: str
    weight: int = 1
    role: Role = "primary"


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: str
    name: str
    task: Task
    targets: tuple[Target, ...]
    timeout_seconds: float = 60.0
    connect_timeout_seconds: float = 5.0
    max_retries: int = 1


class Registry(Protocol):
    def endpoint(self, name: str) -> Endpoint | None:
        """The endpoint with that name, or None."""

    def endpoints(self) -> list[Endpoint]:
        """Every endpoint, sorted by name."""

    def credential(self, key_id: str) -> Credential:
        """The decrypted credential of a key; raises NoKey when the key is gone.

        Decrypted once per key version and kept in memory."""

    def authenticate(self, token: str) -> Principal | None:
        """The principal a bearer token stands for, or None for an unknown token."""
