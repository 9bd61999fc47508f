"""Who is calling: the admin token, a named access token, or the web UI's session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from keyhouse.limits.spec import Subject


class Named(Protocol):
    @property
    def name(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Principal:
    token_id: str
    name: str
    is_admin: bool
    # Endpoint names this token may call; None means every endpoint.
    endpoints: frozenset[str] | None = None
    # Epoch seconds after which this secret is refused (expiry, or a rotation's grace).
    expires_at: float | None = None
    limited: Subject | None = None  # the token's own limits, when it has any

    def may_call(self, endpoint: Named) -> bool:
        return self.endpoints is None or endpoint.name in self.endpoints
