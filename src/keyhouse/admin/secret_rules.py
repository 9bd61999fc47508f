"""What a secret must look like for where it goes, and what a mask looks like.

docs/security.md, "Secrets never come back out": a secret sent in a header is printable
ASCII with no whitespace inside; a JSON credential parses and has its required members;
anything shaped like a mask of the stored secret is never stored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from keyhouse.providers.catalog import FieldSpec
from keyhouse.vault.masking import MIN_LENGTH_FOR_TAIL

# Every byte a header value (RFC 9110 token68 and friends) can carry without quoting.
_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")
# What masks are made of, in Keyhouse's style and in other tools' (MLflow's "sk-...abcd",
# "****abcd"): no real key contains one of these runs.
_MASK_RUN = re.compile(r"…|•|\*{2,}|\.{3,}")
_SERVICE_ACCOUNT_MEMBERS = ("client_email", "private_key", "token_uri")


def secret_problem(spec: FieldSpec, value: str, allow_private: bool) -> str | None:
    """Why ``value`` cannot work as this secret field, or None."""
    if spec.kind == "json":
        return _json_problem(spec.name, value, allow_private)
    if not _HEADER_SAFE.fullmatch(value):
        return (
            "must be printable ASCII with no spaces or control characters "
            "(it is sent in an HTTP header)"
        )
    return None


def looks_like_mask(value: str, stored_masks: Mapping[str, str], field: str) -> bool:
    """True for a value that is a mask (ours or another tool's), or shaped like the mask
    of the secret this field holds now: sending a form back unchanged must not replace
    the secret with its own mask."""
    if _MASK_RUN.search(value):
        return True
    stored = stored_masks.get(field)
    if not stored:
        return False
    if value == stored:
        return True
    tail = stored[-4:] if "…" in stored else ""
    # A real secret long enough to show a tail is at least MIN_LENGTH_FOR_TAIL long; a
    # shorter value ending in the stored tail is someone's idea of its mask.
    return bool(tail) and value.endswith(tail) and len(value) < MIN_LENGTH_FOR_TAIL


def _json_problem(name: str, value: str, allow_private: bool) -> str | None:
    try:
        data = json.loads(value)
    except ValueError:
        return "must be valid JSON"
    if not isinstance(data, dict):
        return "must be a JSON object"
    if name == "service_account_json":
        return _service_account_problem(data, allow_private)
    return None


def _service_account_problem(data: dict[str, object], allow_private: bool) -> str | None:
    if data.get("type") != "service_account":
        return 'must be a service-account key file ("type": "service_account")'
    for key in _SERVICE_ACCOUNT_MEMBERS:
        member = data.get(key)
        if not isinstance(member, str) or not member:
            return f"the service-account JSON lacks {key!r}"
    email = str(data["client_email"])
    if not _HEADER_SAFE.fullmatch(email) or "@" not in email:
        return "client_email is not an email address"
    # The key signs every token grant: one that does not load fails every call later.
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        load_pem_private_key(str(data["private_key"]).encode(), password=None)
    except (ValueError, TypeError):
        return "private_key is not an unencrypted PEM private key"
    # The signed grant goes to token_uri: hold it to the same policy as a base URL.
    from keyhouse.shared.urlpolicy import check_url

    try:
        check_url(str(data["token_uri"]), allow_private)
    except Exception as exc:  # UpstreamURLRefused, with a reason that is safe to show
        return f"token_uri: {getattr(exc, 'message', 'URL not allowed')}"
    return None
