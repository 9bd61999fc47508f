"""HashiCorp Vault's Transit secrets engine: ``encrypt`` / ``decrypt`` under a named key,
with the associated data as ``associated_data`` (AES-GCM keys) — Vault checks it on
decrypt, so a DEK copied to another row does not open.

Only a token with ``update`` on ``{mount}/encrypt/{key}`` and ``{mount}/decrypt/{key}``
is needed; the Transit key never leaves Vault.
"""

from __future__ import annotations

import base64
from urllib.parse import quote

import httpx

from keyhouse.errors import KmsUnavailable
from keyhouse.vault.kms._http import post_json

SETTING = "KEYHOUSE_VAULT_TRANSIT_KEY"


class VaultTransit:
    kind = "vault_transit"
    setting = SETTING

    def __init__(
        self,
        addr: str,
        key: str,
        token: str,
        *,
        mount: str = "transit",
        namespace: str | None = None,
        timeout: float = 5.0,
    ) -> None:
        base = addr.rstrip("/")
        path = f"{quote(mount.strip('/'), safe='/')}"
        self.key_ref = f"{base}/v1/{path}/keys/{key}"
        self._encrypt = f"{base}/v1/{path}/encrypt/{quote(key, safe='')}"
        self._decrypt = f"{base}/v1/{path}/decrypt/{quote(key, safe='')}"
        self._headers = {"X-Vault-Token": token}
        if namespace:
            self._headers["X-Vault-Namespace"] = namespace
        self._client = httpx.Client(timeout=timeout)

    def __repr__(self) -> str:
        return f"VaultTransit({self.key_ref!r})"

    def wrap(self, dek: bytes, aad: bytes) -> bytes:
        data = post_json(
            self._client,
            self._encrypt,
            {
                "plaintext": base64.b64encode(dek).decode(),
                "associated_data": base64.b64encode(aad).decode(),
            },
            self._headers,
            what=f"Vault Transit ({SETTING}={self.key_ref})",
            refused=(),
        )
        ciphertext = (data.get("data") or {}).get("ciphertext")
        if not isinstance(ciphertext, str) or not ciphertext.startswith("vault:"):
            raise KmsUnavailable(f"Vault Transit ({self.key_ref}) sent no ciphertext.")
        return ciphertext.encode()

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes:
        data = post_json(
            self._client,
            self._decrypt,
            {
                "ciphertext": wrapped.decode("ascii", "replace"),
                "associated_data": base64.b64encode(aad).decode(),
            },
            self._headers,
            what=f"Vault Transit ({SETTING}={self.key_ref})",
        )
        plaintext = (data.get("data") or {}).get("plaintext")
        try:
            return base64.b64decode(plaintext or "", validate=True)
        except (ValueError, TypeError):
            raise KmsUnavailable(f"Vault Transit ({self.key_ref}) sent no plaintext.") from None
