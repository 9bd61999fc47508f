"""The Gemini fake's credential checks: the Gemini API's key, Vertex AI's Bearer tokens,
and the JWT-bearer grant of ``POST /token`` (the assertion's RS256 signature verified
with the service account's public key)."""

from __future__ import annotations

import base64
import binascii
import json
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from keyhouse.testing.fakes.gemini_errors import error_info, google_error

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
_AUTH_HELP = (
    "Expected OAuth 2 access token, login cookie or other valid authentication "
    "credential. See https://developers.google.com/identity/sign-in/web/"
    "devconsole-project."
)


def _b64url(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def check_key(request: Request, api_key: str) -> Response | None:
    """The Gemini API's key check, answered as Google answers."""
    presented = request.headers.get("x-goog-api-key") or request.query_params.get("key")
    if not presented:
        return google_error(
            403,
            "PERMISSION_DENIED",
            (
                "Method doesn't allow unregistered callers (callers without established "
                "identity). Please use API Key or other form of API consumer identity to "
                "call this API."
            ),
        )
    if presented != api_key:
        # A hostile upstream: the presented key comes back in the message.
        message = f"API key not valid. Please pass a valid API key. ({presented})"
        return google_error(
            400,
            "INVALID_ARGUMENT",
            message,
            [
                error_info("API_KEY_INVALID", "generativelanguage.googleapis.com"),
                {
                    "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                    "locale": "en-US",
                    "message": "API key not valid. Please pass a valid API key.",
                },
                {
                    "@type": "type.googleapis.com/google.rpc.DebugInfo",
                    "detail": f"Invalid API key: {presented}",
                },
            ],
        )
    return None


def check_token(request: Request, method: str, tokens: dict[str, float]) -> Response | None:
    """Vertex AI's Bearer check against the tokens this app issued (and their expiry)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        message = (
            "API keys are not supported by this API. Expected OAuth2 access token "
            "or other authentication credentials that assert a principal. See "
            "https://cloud.google.com/docs/authentication"
            if request.headers.get("x-goog-api-key")
            else f"Request is missing required authentication credential. {_AUTH_HELP}"
        )
        return google_error(
            401,
            "UNAUTHENTICATED",
            message,
            [error_info("CREDENTIALS_MISSING", "aiplatform.googleapis.com", method=method)],
        )
    expiry = tokens.get(token)
    if expiry is None or expiry <= time.time():
        reason = "ACCESS_TOKEN_EXPIRED" if expiry else "ACCESS_TOKEN_TYPE_UNSUPPORTED"
        message = f"Request had invalid authentication credentials. {_AUTH_HELP} ({token})"
        return google_error(
            401,
            "UNAUTHENTICATED",
            message,
            [error_info(reason, "aiplatform.googleapis.com", method=method)],
        )
    return None


def _grant_error(error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=400)


def check_grant(
    form: dict[str, str],
    audience: str,
    public_key: PublicKeyTypes | None,
    service_account_email: str | None,
    now: float,
) -> Response | None:
    """The JWT-bearer grant's checks, in Google's order and words: grant type, a JWT,
    the issuer's account, its RS256 signature, ``aud`` (this endpoint's URL), lifetime
    and scope."""
    if form.get("grant_type") != GRANT_TYPE:
        return _grant_error(
            "unsupported_grant_type", f"Invalid grant_type: {form.get('grant_type', '')}"
        )
    assertion = form.get("assertion", "")
    try:
        header_b64, payload_b64, signature_b64 = assertion.split(".")
        header = json.loads(_b64url(header_b64))
        claims = json.loads(_b64url(payload_b64))
        signature = _b64url(signature_b64)
    except (ValueError, binascii.Error):
        return _grant_error("invalid_grant", "Invalid JWT: not a JWT.")
    if public_key is None or claims.get("iss") != service_account_email:
        return _grant_error("invalid_grant", "Invalid grant: account not found")
    try:
        if header.get("alg") != "RS256" or not isinstance(public_key, rsa.RSAPublicKey):
            raise InvalidSignature
        public_key.verify(
            signature,
            f"{header_b64}.{payload_b64}".encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except InvalidSignature:
        # A hostile upstream: the presented assertion comes back in the message.
        return _grant_error("invalid_grant", f"Invalid JWT Signature. ({assertion})")
    if claims.get("aud") != audience:
        return _grant_error(
            "invalid_grant",
            (f"Invalid JWT: Failed audience check. The expected value was {audience}."),
        )
    iat, exp = claims.get("iat"), claims.get("exp")
    if (
        not isinstance(iat, int)
        or not isinstance(exp, int)
        or exp <= now
        or iat > now + 300
        or exp - iat > 3600
    ):
        return _grant_error(
            "invalid_grant",
            (
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a "
                "reasonable timeframe. Check your iat and exp values in the JWT claim."
            ),
        )
    if SCOPE not in str(claims.get("scope", "")).split():
        return _grant_error("invalid_scope", "Invalid OAuth scope or ID token audience provided.")
    return None
