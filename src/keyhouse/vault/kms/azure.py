"""Azure Key Vault keys: ``wrapKey`` / ``unwrapKey`` (RSA-OAEP-256) with a token of the
server's managed identity for ``https://vault.azure.net``.

Key Vault's wrap operation takes no associated data, so the wrapped plaintext is the DEK
followed by SHA-256 of the associated data, checked on unwrap: a DEK copied to another
row, or presented under another KEK version, does not open. (Whoever may read the public
key could wrap bytes of their own choosing; docs/security.md says what that means.)
A wrapped value records the key version that made it, so a key rotated in Key Vault keeps
opening old rows. The identity needs only the ``wrapKey`` and ``unwrapKey`` key
permissions (or the "Key Vault Crypto Service Encryption User" role) on this key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

import httpx

from keyhouse.cloud.azure import ManagedIdentityTokens
from keyhouse.errors import DecryptionFailed, KekConfigError, KmsUnavailable
from keyhouse.vault.kms._http import post_json

SETTING = "KEYHOUSE_AZURE_KEYVAULT_KEY_URL"
API_VERSION = "7.4"
SCOPE = "https://vault.azure.net/.default"
ALG = "RSA-OAEP-256"
KEY_URL = re.compile(r"(https?://[^/]+/keys/[A-Za-z0-9-]+)(?:/([A-Za-z0-9]+))?/?")
PREFIX = b"akv1:"


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class AzureKeyVault:
    kind = "azure_keyvault"
    setting = SETTING

    def __init__(
        self,
        key_url: str,
        *,
        client_id: str | None = None,
        timeout: float = 5.0,
        tokens: ManagedIdentityTokens | None = None,
    ) -> None:
        match = KEY_URL.fullmatch(key_url)
        if not match:
            raise KekConfigError(
                f"{SETTING} must look like https://VAULT.vault.azure.net/keys/NAME[/VERSION]."
            )
        self.key_ref = key_url
        self._base, self._version = match.group(1), match.group(2)
        self._tokens = tokens or ManagedIdentityTokens(client_id, timeout)
        self._client = httpx.Client(timeout=timeout)

    def __repr__(self) -> str:
        return f"AzureKeyVault({self.key_ref!r})"

    def _headers(self) -> dict[str, str]:
        from azure.core.exceptions import AzureError

        try:
            token, _ = self._tokens.token(SCOPE)
        except AzureError as exc:
            raise KmsUnavailable(
                f"No managed-identity token for Key Vault ({SETTING}="
                f"{self.key_ref}): {type(exc).__name__}."
            ) from None
        return {"Authorization": f"Bearer {token}"}

    def wrap(self, dek: bytes, aad: bytes) -> bytes:
        url = f"{self._base}{'/' + self._version if self._version else ''}/wrapkey"
        data = post_json(
            self._client,
            f"{url}?api-version={API_VERSION}",
            {"alg": ALG, "value": _b64url(dek + hashlib.sha256(aad).digest())},
            self._headers(),
            what=f"Key Vault ({SETTING}={self.key_ref})",
            refused=(),
        )
        kid, value = str(data.get("kid") or ""), data.get("value")
        version = kid.rstrip("/").rsplit("/", 1)[-1]
        if not value or not re.fullmatch(r"[A-Za-z0-9]+", version):
            raise KmsUnavailable(f"Key Vault ({self.key_ref}) answered without a wrapped key.")
        return PREFIX + version.encode() + b":" + _unb64url(str(value))

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes:
        if not wrapped.startswith(PREFIX) or b":" not in wrapped[len(PREFIX) :]:
            raise DecryptionFailed()
        version, _, raw = wrapped[len(PREFIX) :].partition(b":")
        if not re.fullmatch(rb"[A-Za-z0-9]+", version):  # it goes into the URL path
            raise DecryptionFailed()
        url = f"{self._base}/{version.decode('ascii', 'replace')}/unwrapkey"
        data = post_json(
            self._client,
            f"{url}?api-version={API_VERSION}",
            {"alg": ALG, "value": _b64url(raw)},
            self._headers(),
            what=f"Key Vault ({SETTING}={self.key_ref})",
            refused=(400, 404),
        )
        try:
            plain = _unb64url(str(data.get("value") or ""))
        except ValueError:
            raise DecryptionFailed() from None
        dek, tag = plain[:-32], plain[-32:]
        if len(plain) <= 32 or not hmac.compare_digest(tag, hashlib.sha256(aad).digest()):
            raise DecryptionFailed()
        return dek
