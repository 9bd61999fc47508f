"""Who is calling: the admin token, a named access token, or the web UI's session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


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

    def may_call(self, endpoint: Named) -> bool:
        return self.endpoints is None or endpoint.name in self.endpoints
