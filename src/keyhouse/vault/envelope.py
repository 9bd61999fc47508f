"""Envelope encryption: pure functions, no I/O.

Each write of a credential draws a fresh 256-bit DEK; the DEK seals the credential
fields with AES-256-GCM, and a KEK wraps the DEK with AES-256-GCM. Both associated-data
strings bind the ciphertext to its row, so a ciphertext copied onto another row, or a
wrapped DEK presented under another KEK version, fails to open.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keyhouse.errors import DecryptionFailed

FORMAT_V1 = 1
NONCE_BYTES = 12
DEK_BYTES = 32


@dataclass(frozen=True, slots=True)
class Sealed:
    """What a row stores for its secret fields."""

    format: int
    kek_version: int
    wrapped_dek: bytes  # nonce || AES-GCM(KEK, DEK)
    ciphertext: bytes  # nonce || AES-GCM(DEK, json(fields))


class Kek:
    """A key-encryption key of one version. Its bytes never appear in a repr."""

    __slots__ = ("_aead", "version")

    def __init__(self, version: int, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("a KEK must be 32 bytes")
        self.version = version
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return f"Kek(version={self.version})"

    def wrap(self, dek: bytes, row_id: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, dek, wrap_aad(row_id, self.version))

    def unwrap(self, wrapped: bytes, row_id: str) -> bytes:
        try:
            return self._aead.decrypt(
                wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], wrap_aad(row_id, self.version)
            )
        except (InvalidTag, ValueError):
            raise DecryptionFailed() from None


def _lp(*parts: bytes | str | int) -> bytes:
    """Length-prefixed concatenation: no two different tuples encode alike."""
    out = bytearray()
    for part in parts:
        if isinstance(part, int):
            raw = struct.pack(">Q", part)
        elif isinstance(part, str):
            raw = part.encode()
        else:
            raw = part
        out += struct.pack(">I", len(raw)) + raw
    return bytes(out)


def data_aad(fmt: int, table: str, row_id: str, fields: tuple[str, ...], provider: str) -> bytes:
    return _lp(b"keyhouse/data", fmt, table, row_id, _lp(*sorted(fields)), provider)


def wrap_aad(row_id: str, kek_version: int) -> bytes:
    return _lp(b"keyhouse/dek", row_id, kek_version)


def seal(kek: Kek, table: str, row_id: str, provider: str, secrets: dict[str, str]) -> Sealed:
    dek = os.urandom(DEK_BYTES)
    nonce = os.urandom(NONCE_BYTES)
    plaintext = json.dumps(secrets, sort_keys=True, separators=(",", ":")).encode()
    aad = data_aad(FORMAT_V1, table, row_id, tuple(secrets), provider)
    ciphertext = nonce + AESGCM(dek).encrypt(nonce, plaintext, aad)
    return Sealed(FORMAT_V1, kek.version, kek.wrap(dek, row_id), ciphertext)


def open_sealed(
    kek: Kek, sealed: Sealed, table: str, row_id: str, provider: str, fields: tuple[str, ...]
) -> dict[str, str]:
    if sealed.format != FORMAT_V1 or kek.version != sealed.kek_version:
        raise DecryptionFailed()
    dek = kek.unwrap(sealed.wrapped_dek, row_id)
    aad = data_aad(sealed.format, table, row_id, fields, provider)
    try:
        plaintext = AESGCM(dek).decrypt(
            sealed.ciphertext[:NONCE_BYTES], sealed.ciphertext[NONCE_BYTES:], aad
        )
    except (InvalidTag, ValueError):
        raise DecryptionFailed() from None
    data = json.loads(plaintext)
    if not isinstance(data, dict) or set(data) != set(fields):
        raise DecryptionFailed()
    return {str(k): str(v) for k, v in data.items()}


def rewrap(old: Kek, new: Kek, sealed: Sealed, row_id: str) -> Sealed:
    """Re-wrap the DEK under another KEK; the credential ciphertext does not change."""
    dek = old.unwrap(sealed.wrapped_dek, row_id)
    return Sealed(sealed.format, new.version, new.wrap(dek, row_id), sealed.ciphertext)
