"""The envelope: pure functions, tested without a database (SECURITY.md 2, 3, 4, 5)."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from keyhouse.errors import DecryptionFailed
from keyhouse.vault.envelope import Kek, Sealed, open_sealed, rewrap, seal
from keyhouse.vault.masking import HIDDEN, mask, mask_field

SECRET = {"api_key": "sk-test-0123456789abcdefghijklmnop"}
ROW = "row-1"


def _kek(version: int = 1) -> Kek:
    return Kek(version, os.urandom(32))


def test_round_trip() -> None:
    kek = _kek()
    sealed = seal(kek, "api_keys", ROW, "openai", SECRET)
    assert open_sealed(kek, sealed, "api_keys", ROW, "openai", ("api_key",)) == SECRET


def test_same_secret_twice_gives_different_ciphertexts_and_deks() -> None:
    kek = _kek()
    a = seal(kek, "api_keys", ROW, "openai", SECRET)
    b = seal(kek, "api_keys", ROW, "openai", SECRET)
    assert a.ciphertext != b.ciphertext
    assert a.wrapped_dek != b.wrapped_dek
    assert a.ciphertext[:12] != b.ciphertext[:12]  # nonces differ too


@pytest.mark.parametrize(
    "part,offset",
    [
        ("ciphertext", 0),  # nonce
        ("ciphertext", 14),  # body
        ("ciphertext", -1),  # tag
        ("wrapped_dek", 0),  # wrap nonce
        ("wrapped_dek", 20),  # wrapped key
        ("wrapped_dek", -1),  # wrap tag
    ],
)
def test_one_flipped_byte_anywhere_fails_with_a_typed_error(part: str, offset: int) -> None:
    kek = _kek()
    sealed = seal(kek, "api_keys", ROW, "openai", SECRET)
    raw = bytearray(getattr(sealed, part))
    raw[offset] ^= 0x01
    tampered = Sealed(
        sealed.format,
        sealed.kek_version,
        bytes(raw) if part == "wrapped_dek" else sealed.wrapped_dek,
        bytes(raw) if part == "ciphertext" else sealed.ciphertext,
    )
    with pytest.raises(DecryptionFailed) as info:
        open_sealed(kek, tampered, "api_keys", ROW, "openai", ("api_key",))
    assert "sk-test" not in str(info.value)


@pytest.mark.parametrize(
    "row,provider,fields,table",
    [
        ("row-2", "openai", ("api_key",), "api_keys"),  # swapped onto another row
        (ROW, "anthropic", ("api_key",), "api_keys"),  # provider changed
        (ROW, "openai", ("api_key", "extra"), "api_keys"),  # field set changed
        (ROW, "openai", ("api_key",), "other_table"),  # other table
    ],
)
def test_ciphertext_is_bound_to_its_row(
    row: str, provider: str, fields: tuple[str, ...], table: str
) -> None:
    kek = _kek()
    sealed = seal(kek, "api_keys", ROW, "openai", SECRET)
    with pytest.raises(DecryptionFailed):
        open_sealed(kek, sealed, table, row, provider, fields)


def test_wrapped_dek_is_bound_to_its_kek_version() -> None:
    key = os.urandom(32)
    sealed = seal(Kek(1, key), "api_keys", ROW, "openai", SECRET)
    relabelled = Sealed(sealed.format, 2, sealed.wrapped_dek, sealed.ciphertext)
    with pytest.raises(DecryptionFailed):
        open_sealed(Kek(2, key), relabelled, "api_keys", ROW, "openai", ("api_key",))


def test_wrong_kek_fails() -> None:
    sealed = seal(_kek(), "api_keys", ROW, "openai", SECRET)
    with pytest.raises(DecryptionFailed):
        open_sealed(_kek(), sealed, "api_keys", ROW, "openai", ("api_key",))


def test_rewrap_changes_only_the_wrapped_dek() -> None:
    old, new = _kek(1), _kek(2)
    sealed = seal(old, "api_keys", ROW, "openai", SECRET)
    moved = rewrap(old, new, sealed, ROW)
    assert moved.ciphertext == sealed.ciphertext
    assert moved.wrapped_dek != sealed.wrapped_dek and moved.kek_version == 2
    assert open_sealed(new, moved, "api_keys", ROW, "openai", ("api_key",)) == SECRET
    with pytest.raises(DecryptionFailed):
        open_sealed(old, moved, "api_keys", ROW, "openai", ("api_key",))


def test_golden_fixture_from_an_earlier_release_still_opens() -> None:
    """SECURITY.md test 5: format 1, made by release 0.1.0 and committed."""
    data = json.loads((Path(__file__).parent.parent / "fixtures" / "golden_v1.json").read_text())
    kek = Kek(data["kek_version"], base64.b64decode(data["kek_base64"]))
    sealed = Sealed(
        data["format"],
        data["kek_version"],
        base64.b64decode(data["wrapped_dek"]),
        base64.b64decode(data["ciphertext"]),
    )
    assert (
        open_sealed(
            kek, sealed, data["table"], data["row_id"], data["provider"], tuple(data["fields"])
        )
        == data["plaintext"]
    )


def test_kek_repr_has_no_key_bytes() -> None:
    key = os.urandom(32)
    assert repr(Kek(3, key)) == "Kek(version=3)"


def test_masks_show_at_most_four_trailing_characters() -> None:
    assert mask("sk-proj-abcdefghijklmnopqrstuvwxyz1234") == "sk-proj-…1234"
    assert mask("abcdefghijklmnopqrstuvwxyz") == "…wxyz"
    assert mask("short-one") == HIDDEN
    assert mask("sk-123456789012") == HIDDEN  # short: nothing at all
    sa = json.dumps(
        {
            "client_email": "bot@proj.iam.gserviceaccount.com",
            "private_key": "-----BEGIN PRIVATE KEY-----x",
        }
    )
    assert (
        mask_field("service_account_json", sa) == "service account bot@proj.iam.gserviceaccount.com"
    )
    assert mask_field("service_account_json", "{not json") == HIDDEN
