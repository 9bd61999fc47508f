"""The HTTP call every REST-speaking KMS provider shares: timeouts, no redirects, and
its failures turned into our errors with messages that name the key, never a secret."""

from __future__ import annotations

from typing import Any

import httpx

from keyhouse.errors import DecryptionFailed, KmsUnavailable


def post_json(
    client: httpx.Client,
    url: str,
    body: dict[str, Any],
    headers: dict[str, str],
    *,
    what: str,
    refused: tuple[int, ...] = (400,),
) -> dict[str, Any]:
    """POST and return the JSON answer. ``refused`` statuses mean "this ciphertext does
    not open" (DecryptionFailed); anything else that is not 2xx means the KMS cannot be
    used (KmsUnavailable)."""
    try:
        response = client.post(url, json=body, headers=headers, follow_redirects=False)
    except httpx.HTTPError as exc:
        raise KmsUnavailable(f"{what} could not be reached ({type(exc).__name__}).") from None
    if response.status_code in refused:
        raise DecryptionFailed()
    if response.status_code >= 300:
        raise KmsUnavailable(f"{what} answered {response.status_code}.")
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise KmsUnavailable(f"{what} sent an answer that is not a JSON object.")
    return data
