"""The one interface every KMS KEK provider implements, and the KEK that uses it.

A provider only wraps and unwraps bytes under associated data; everything else — which
version a row uses, the key-check value, caching — is shared here, so adding a KMS is
one small module.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from typing import Protocol

from keyhouse.errors import DecryptionFailed, KmsUnavailable
from keyhouse.vault.envelope import DEK_BYTES, Kek, wrap_aad
from keyhouse.vault.kek import key_check_value

CHECK_ROW = "keyhouse:kek-check"  # never a row id (those are UUIDs)
DEK_CACHE_SIZE = 100_000  # 32-byte DEKs: a few MiB for a very large vault


class KmsProvider(Protocol):
    """Wraps and unwraps DEKs with a key held by a KMS.

    ``wrap`` and ``unwrap`` raise ``DecryptionFailed`` when the KMS refuses a ciphertext
    (tampered, other key, other associated data) and ``KmsUnavailable`` when it cannot be
    reached or refuses the caller; their messages name the key and the setting, never
    key material."""

    kind: str  # the value of KEYHOUSE_KEK_PROVIDER, and kek_versions.source
    key_ref: str  # which key, for messages (an ARN, a resource name, a URL)
    setting: str  # the setting that names the key

    def wrap(self, dek: bytes, aad: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes: ...


class KmsKek(Kek):
    """A KEK version whose key lives in a KMS.

    A subclass of ``Kek`` so the envelope functions (seal, open, rewrap) take it as they
    are. Each DEK it unwraps or wraps is kept in memory per (row, wrapped DEK) — a new
    credential version has a new wrapped DEK — so a credential is unwrapped by the KMS
    once per version per process; the live config opens every key when it loads (off the
    request path), so requests never wait on the KMS."""

    __slots__ = ("_cache_size", "_deks", "_lock", "provider")

    def __init__(
        self, version: int, provider: KmsProvider, cache_size: int = DEK_CACHE_SIZE
    ) -> None:  # no AES key: no super()
        self.version = version
        self.provider = provider
        self._deks: OrderedDict[tuple[str, bytes], bytes] = OrderedDict()
        self._lock = threading.Lock()
        self._cache_size = cache_size

    def __repr__(self) -> str:
        return f"KmsKek(version={self.version}, kind={self.provider.kind})"

    def wrap(self, dek: bytes, row_id: str) -> bytes:
        wrapped = self.provider.wrap(dek, wrap_aad(row_id, self.version))
        self._remember(row_id, wrapped, dek)
        return wrapped

    def unwrap(self, wrapped: bytes, row_id: str) -> bytes:
        key = (row_id, hashlib.sha256(wrapped).digest())
        with self._lock:
            dek = self._deks.get(key)
            if dek is not None:
                self._deks.move_to_end(key)
                return dek
        dek = self.provider.unwrap(wrapped, wrap_aad(row_id, self.version))
        if len(dek) != DEK_BYTES:
            raise DecryptionFailed()
        self._remember(row_id, wrapped, dek)
        return dek

    def cached(self, row_id: str, wrapped: bytes) -> bool:
        with self._lock:
            return (row_id, hashlib.sha256(wrapped).digest()) in self._deks

    def _remember(self, row_id: str, wrapped: bytes, dek: bytes) -> None:
        with self._lock:
            self._deks[(row_id, hashlib.sha256(wrapped).digest())] = dek
            while len(self._deks) > self._cache_size:
                self._deks.popitem(last=False)


# --- the key-check value of a KMS version ------------------------------------------
#
# A file KEK's check value is an HMAC made with the key; a KMS key's bytes are never
# seen, so a version records a random check secret wrapped by the KMS (in the salt
# column) and the HMAC of that secret (the kcv). Start-up unwraps the one and compares it
# with the other: an unreachable KMS, a key without decrypt permission and a different
# key all stop start-up, each with its own message.


def make_check(provider: KmsProvider, version: int) -> tuple[bytes, bytes]:
    """(kcv, wrapped check secret) for a new KMS-backed version."""
    secret = os.urandom(DEK_BYTES)
    wrapped = provider.wrap(secret, wrap_aad(CHECK_ROW, version))
    return key_check_value(secret), wrapped


def verify_check(provider: KmsProvider, version: int, kcv: bytes, wrapped: bytes | None) -> bool:
    """Whether this provider's key is the one version ``version`` was made with. Raises
    ``KmsUnavailable`` when the KMS cannot be asked."""
    if not wrapped:
        return False
    try:
        secret = provider.unwrap(wrapped, wrap_aad(CHECK_ROW, version))
    except DecryptionFailed:
        return False
    return key_check_value(secret) == kcv


def probe(provider: KmsProvider) -> None:
    """A round trip through the KMS: proves the key exists and both permissions hold."""
    secret = os.urandom(DEK_BYTES)
    aad = wrap_aad(CHECK_ROW, 0)
    try:
        back = provider.unwrap(provider.wrap(secret, aad), aad)
    except DecryptionFailed:
        raise KmsUnavailable(
            f"The KMS key {provider.key_ref} ({provider.setting}) "
            "could not decrypt what it had just encrypted."
        ) from None
    if back != secret:
        raise KmsUnavailable(
            f"The KMS key {provider.key_ref} ({provider.setting}) "
            "answered a round trip with other bytes."
        )
