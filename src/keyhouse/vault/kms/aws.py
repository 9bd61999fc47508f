"""AWS KMS: Encrypt / Decrypt with the associated data as the EncryptionContext.

Credentials come from botocore's own chain (environment, shared config, web identity,
container and instance metadata), so no AWS secret is stored by Keyhouse. The
EncryptionContext is logged by CloudTrail and must match on Decrypt, which is what binds
a wrapped DEK to its row and KEK version.
"""

from __future__ import annotations

import base64
import logging
from typing import Any

from keyhouse.errors import DecryptionFailed, KmsUnavailable

SETTING = "KEYHOUSE_AWS_KMS_KEY_ID"
CONTEXT_KEY = "keyhouse:aad"
# KMS answers these when the ciphertext, its context or its key is not the right one.
_REFUSED = {"InvalidCiphertextException", "IncorrectKeyException"}


def quiet_botocore() -> None:
    """botocore logs request and response bodies at DEBUG — for KMS, the DEK itself
    (Plaintext); keep every botocore logger at INFO or above, whatever the root's level."""
    logger = logging.getLogger("botocore")
    if logger.level < logging.INFO:
        logger.setLevel(logging.INFO)


class AwsKms:
    kind = "aws_kms"
    setting = SETTING

    def __init__(
        self,
        key_id: str,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        timeout: float = 5.0,
    ) -> None:
        import botocore.session
        from botocore.config import Config

        quiet_botocore()
        self.key_ref = key_id
        self._key_id = key_id
        if region is None and key_id.startswith("arn:"):
            region = key_id.split(":")[3] or None
        session = botocore.session.get_session()
        self._client: Any = session.create_client(
            "kms",
            region_name=region,
            endpoint_url=endpoint_url or None,
            config=Config(
                connect_timeout=timeout,
                read_timeout=timeout,
                retries={"max_attempts": 2, "mode": "standard"},
            ),
        )

    def __repr__(self) -> str:
        return f"AwsKms({self.key_ref!r})"

    def wrap(self, dek: bytes, aad: bytes) -> bytes:
        answer = self._call(
            "encrypt", KeyId=self._key_id, Plaintext=dek, EncryptionContext=_context(aad)
        )
        return bytes(answer["CiphertextBlob"])

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes:
        # Naming the KeyId makes KMS refuse a blob made under any other key.
        answer = self._call(
            "decrypt", KeyId=self._key_id, CiphertextBlob=wrapped, EncryptionContext=_context(aad)
        )
        return bytes(answer["Plaintext"])

    def _call(self, operation: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self._client, operation)(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _REFUSED:
                raise DecryptionFailed() from None
            raise KmsUnavailable(
                f"AWS KMS refused {operation} with the key {self.key_ref} "
                f"({SETTING}): {code or 'error'}."
            ) from None
        except BotoCoreError as exc:
            # botocore's messages name the endpoint and the missing piece, never a secret.
            raise KmsUnavailable(
                f"AWS KMS could not be asked to {operation} with the key "
                f"{self.key_ref} ({SETTING}): {type(exc).__name__}."
            ) from None


def _context(aad: bytes) -> dict[str, str]:
    return {CONTEXT_KEY: base64.b64encode(aad).decode()}
