"""Masks shown in place of secrets: at most 4 trailing characters, none for short ones."""

from __future__ import annotations

import json

HIDDEN = "••••••••"
# Vendor prefixes are public knowledge and help people tell keys apart.
_KNOWN_PREFIXES = ("sk-ant-", "sk-proj-", "sk-", "AKIA", "ASIA", "dapi", "gsk_", "xai-", "AIza")
MIN_LENGTH_FOR_TAIL = 16


def mask(value: str) -> str:
    if len(value) < MIN_LENGTH_FOR_TAIL:
        return HIDDEN
    prefix = next((p for p in _KNOWN_PREFIXES if value.startswith(p)), "")
    if len(value) - len(prefix) < MIN_LENGTH_FOR_TAIL:
        prefix = ""
    return f"{prefix}…{value[-4:]}"


def mask_field(name: str, value: str) -> str:
    if name == "service_account_json":
        # The client email names the account without revealing any key material.
        try:
            email = json.loads(value).get("client_email")
        except (ValueError, AttributeError):
            email = None
        if isinstance(email, str) and email:
            return f"service account {email}"
        return HIDDEN
    return mask(value)
