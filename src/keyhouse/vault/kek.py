"""KEK sources: a random key file (the default) or a passphrase stretched with scrypt.

A source only yields key material; matching it to the versions recorded in the database
(by key-check value) is the keyring's job (docs/security.md, "KEK sources").
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from keyhouse.errors import KekConfigError

KCV_INFO = b"keyhouse kek check v1"
# OWASP's scrypt baseline (N=2^17, r=8, p=1): ~128 MiB and a fraction of a second, paid
# once per start-up, never per request.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**17, 8, 1
SALT_BYTES = 16


def key_check_value(key: bytes) -> bytes:
    """Tells a wrong KEK from a tampered row without revealing anything of the key."""
    return hmac.new(key, KCV_INFO, hashlib.sha256).digest()[:16]


@dataclass(frozen=True, slots=True)
class KekMaterial:
    version: int | None  # None: the source does not say; matched by key-check value
    key: bytes = field(repr=False)
    origin: str = ""  # which setting it came from, for messages


class KeyFileSource:
    """A file of lines ``[VERSION:]BASE64`` (32 bytes each); ``#`` starts a comment.

    A bare line is matched to its version by key-check value; during a rotation the file
    holds the old and the new KEK, each with its version."""

    kind = "file"

    def __init__(self, path: Path, setting: str = "KEYHOUSE_KEK_FILE") -> None:
        self.path = path
        self.setting = setting

    def exists(self) -> bool:
        return self.path.exists()

    def materials(self) -> list[KekMaterial]:
        try:
            self._check_private()
            text = self.path.read_text()
        except OSError as exc:
            raise KekConfigError(
                f"Cannot read the KEK file {self.path} ({exc.strerror}); set {self.setting}."
            ) from None
        out: list[KekMaterial] = []
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            version: int | None = None
            if ":" in line:
                head, line = line.split(":", 1)
                try:
                    version = int(head.strip().lstrip("vV"))
                except ValueError:
                    raise KekConfigError(
                        f"Line {number} of the KEK file {self.path} has a bad version."
                    ) from None
            try:
                key = base64.b64decode(line.strip(), validate=True)
            except (binascii.Error, ValueError):
                key = b""
            if len(key) != 32:
                raise KekConfigError(
                    f"Line {number} of the KEK file {self.path} is not a base64 32-byte key."
                )
            out.append(KekMaterial(version, key, f"{self.setting} ({self.path})"))
        if not out:
            raise KekConfigError(f"The KEK file {self.path} holds no key; set {self.setting}.")
        return out

    def _check_private(self) -> None:
        """As ssh does with a private key: a KEK file others may read is not used."""
        mode = stat.S_IMODE(self.path.stat().st_mode)
        if mode & 0o077:
            raise KekConfigError(
                f"The KEK file {self.path} is readable or writable by others (mode "
                f"{mode:04o}); run 'chmod 600 {self.path}' and start again."
            )

    def append(self, version: int, key: bytes) -> None:
        """Add ``N:BASE64`` durably: the line must be on disk before the version is
        recorded, or a crash would leave a recorded version no server can hold."""
        self._check_private()
        with self.path.open("a") as fh:
            fh.write(f"{version}:{base64.b64encode(key).decode()}\n")
            fh.flush()
            os.fsync(fh.fileno())

    def generate(self) -> None:
        """Create a fresh random KEK file readable by its owner only."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = base64.b64encode(os.urandom(32)).decode()
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(
                "# Keyhouse key-encryption key. Back this file up: without it the stored\n"
                "# credentials cannot be decrypted.\n"
                f"1:{key}\n"
            )


def derive_key(passphrase: str, salt: bytes) -> bytes:
    kdf = Scrypt(salt=salt, length=32, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return kdf.derive(passphrase.encode())


class PassphraseSource:
    """One passphrase per line (during a rotation: the old and the new). Salts live with
    the KEK version rows, so keys are derived once the keyring knows the salt."""

    kind = "passphrase"

    def __init__(self, passphrases: str, setting: str = "KEYHOUSE_KEK_PASSPHRASE") -> None:
        self._passphrases = [p for p in (line.strip() for line in passphrases.splitlines()) if p]
        if not self._passphrases or any(len(p) < 12 for p in self._passphrases):
            raise KekConfigError(
                f"Each passphrase in {setting} must be at least 12 characters long."
            )
        self.setting = setting

    def __repr__(self) -> str:
        return f"PassphraseSource({len(self._passphrases)} passphrase(s))"

    def derive(self, salt: bytes) -> bytes:
        """The key of the first passphrase (the one a new KEK version is made from)."""
        return derive_key(self._passphrases[0], salt)

    def derive_each(self, salt: bytes) -> Iterator[bytes]:
        """Each passphrase's key in turn; lazily, since every one costs a full scrypt."""
        for passphrase in self._passphrases:
            yield derive_key(passphrase, salt)

    def materials(self) -> list[KekMaterial]:
        return []
