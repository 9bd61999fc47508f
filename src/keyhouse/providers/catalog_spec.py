"""The shape of a provider catalog row: a provider, its auth methods and their fields.

``catalog`` holds the rows and is where the rest of the code imports these types from.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    label: str
    required: bool = False
    secret: bool = False
    kind: str = "text"  # text | password | url | json | select
    placeholder: str = ""
    help: str = ""
    default: str | None = None
    # A value that becomes part of the upstream host (region, location) must match this.
    pattern: str | None = None
    # This field decides where the credential is sent (a URL, a host, a region that names
    # the host, a tenant in the token URL). Changing it requires every stored secret again
    # in the same request: the exfiltration guard of docs/security.md.
    destination: bool = False


@dataclass(frozen=True, slots=True)
class AuthMethod:
    id: str
    label: str
    secret_fields: tuple[FieldSpec, ...]
    config_fields: tuple[FieldSpec, ...] = ()
    # Which wire format serves this method, when it differs from the provider's default.
    adapter: str | None = None
    # Keyless: the credential is the server's own cloud identity, not a stored secret.
    ambient: bool = False
    notice: str = ""

    def field(self, name: str) -> FieldSpec | None:
        for f in (*self.secret_fields, *self.config_fields):
            if f.name == name:
                return f
        return None

    @property
    def destination_fields(self) -> tuple[str, ...]:
        """Fields that decide where the credential is sent: changing one requires every
        stored secret again (exfiltration guard)."""
        return tuple(f.name for f in self.config_fields if f.destination)


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    id: str
    display_name: str
    adapter: str
    auth_methods: tuple[AuthMethod, ...]
    default_base_url: str | None = None
    chat: bool = True
    embeddings: bool = False
    docs_url: str = ""
    tags: tuple[str, ...] = field(default=())

    def auth_method(self, method_id: str | None) -> AuthMethod | None:
        if method_id is None:
            return self.auth_methods[0]
        for m in self.auth_methods:
            if m.id == method_id:
                return m
        return None

    def serves(self, task: str) -> bool:
        return {"chat": self.chat, "embeddings": self.embeddings}.get(task, False)
