"""Google Cloud KMS: ``cryptoKeys.encrypt`` / ``decrypt`` over REST, with the associated
data as ``additionalAuthenticatedData``; the token comes from Application Default
Credentials (the metadata server, workload identity, GOOGLE_APPLICATION_CREDENTIALS).

The caller needs ``roles/cloudkms.cryptoKeyEncrypterDecrypter`` on the one key.
"""

from __future__ import annotations

import base64
import re

import httpx

from keyhouse.cloud.google import GoogleTokens
from keyhouse.errors import KekConfigError, KmsUnavailable
from keyhouse.vault.kms._http import post_json

SETTING = "KEYHOUSE_GCP_KMS_KEY_NAME"
KEY_NAME = re.compile(r"projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+")


class GoogleKms:
    kind = "gcp_kms"
    setting = SETTING

    def __init__(
        self,
        key_name: str,
        *,
        endpoint_url: str = "https://cloudkms.googleapis.com",
        timeout: float = 5.0,
        tokens: GoogleTokens | None = None,
    ) -> None:
        if not KEY_NAME.fullmatch(key_name):
            raise KekConfigError(
                f"{SETTING} must look like projects/P/locations/L/keyRings/R/cryptoKeys/K."
            )
        self.key_ref = key_name
        base = f"{endpoint_url.rstrip('/')}/v1/{key_name}"
        self._encrypt, self._decrypt = f"{base}:encrypt", f"{base}:decrypt"
        self._tokens = tokens or GoogleTokens(timeout)
        self._client = httpx.Client(timeout=timeout)

    def __repr__(self) -> str:
        return f"GoogleKms({self.key_ref!r})"

    def _headers(self) -> dict[str, str]:
        from google.auth.exceptions import GoogleAuthError

        try:
            token, _ = self._tokens.token()
        except GoogleAuthError as exc:
            raise KmsUnavailable(
                f"No Google credentials for Cloud KMS ({SETTING}="
                f"{self.key_ref}): {type(exc).__name__}."
            ) from None
        return {"Authorization": f"Bearer {token}"}

    def wrap(self, dek: bytes, aad: bytes) -> bytes:
        data = post_json(
            self._client,
            self._encrypt,
            {
                "plaintext": base64.b64encode(dek).decode(),
                "additionalAuthenticatedData": base64.b64encode(aad).decode(),
            },
            self._headers(),
            what=f"Cloud KMS ({SETTING}={self.key_ref})",
            refused=(),
        )
        return _b64(data.get("ciphertext"), self.key_ref)

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes:
        data = post_json(
            self._client,
            self._decrypt,
            {
                "ciphertext": base64.b64encode(wrapped).decode(),
                "additionalAuthenticatedData": base64.b64encode(aad).decode(),
            },
            self._headers(),
            what=f"Cloud KMS ({SETTING}={self.key_ref})",
        )
        return _b64(data.get("plaintext"), self.key_ref)


def _b64(value: object, key: str) -> bytes:
    try:
        raw = base64.b64decode(str(value), validate=True) if value else b""
    except ValueError:
        raw = b""
    if not raw:
        raise KmsUnavailable(f"Cloud KMS ({key}) answered without the bytes it owed.")
    return raw
