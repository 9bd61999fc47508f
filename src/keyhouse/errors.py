"""One exception tree for all of Keyhouse.

Every error the product raises on purpose is a ``KeyhouseError``; foreign exceptions
(SQLAlchemy, aiohttp, cryptography) are translated into it at one boundary each, and the
HTTP layer renders it once (``keyhouse.http_errors``). Each class carries its HTTP status
and a stable machine-readable ``code``; ``message`` is safe to show to anyone — it never
holds a secret, SQL text or a stack trace.

    KeyhouseError (500 internal_error)
    ├── BadRequest (400 bad_request)
    │   ├── ValidationFailed (422 validation_error)
    │   └── UpstreamURLRefused (400 upstream_url_refused)
    ├── Unauthorized (401 unauthorized)
    ├── Forbidden (403 forbidden)
    │   └── AmbientCredentialsDisabled (403 ambient_credentials_disabled) — a keyless key
    │       while the operator has not allowed the server's own cloud identity
    ├── NotFound (404 not_found)
    │   └── ModelNotFound (404 model_not_found)
    ├── MethodNotAllowed (405 method_not_allowed)
    ├── Conflict (409 conflict)
    │   ├── AlreadyExists (409 already_exists)
    │   └── KeyInUse (409 key_in_use)
    ├── PreconditionFailed (412 version_mismatch)
    ├── PayloadTooLarge (413 payload_too_large)
    ├── RateLimited (429 rate_limit_exceeded) — a Keyhouse limit, not the provider's
    │   └── BudgetExceeded (429 budget_exceeded)
    ├── Unsupported (501 unsupported)
    ├── Unavailable (503 unavailable)
    │   ├── NoKey (503 endpoint_has_no_key)
    │   └── LimitsUnavailable (503 limits_unavailable)
    ├── UpstreamError (502 upstream_error; status follows the upstream's class)
    │   ├── UpstreamAuthFailed (401 upstream_auth_failed)
    │   ├── UpstreamNotFound (404 upstream_not_found)
    │   ├── UpstreamBadRequest (400 upstream_bad_request)
    │   ├── UpstreamRateLimited (429 upstream_rate_limited)
    │   ├── UpstreamUnavailable (503 upstream_unavailable)
    │   ├── UpstreamTimeout (504 upstream_timeout)
    │   └── CredentialRefreshFailed (502 credential_refresh_failed) — a keyless auth method
    │       could not get a token (names the method)
    └── VaultError (500 vault_error)
        ├── DecryptionFailed (500 decryption_failed)
        ├── KekConfigError (500 kek_config_error) — start-up refuses to serve
        └── KmsUnavailable (503 kms_unavailable) — the KMS holding the KEK cannot be asked
"""

from __future__ import annotations

from typing import Any, ClassVar


class KeyhouseError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    default_message: ClassVar[str] = "Internal error."

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or self.default_message
        self.details = details
        # Extra response headers (Retry-After, x-ratelimit-*), set by whoever knows them.
        self.headers: dict[str, str] = {}
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.details}}


class BadRequest(KeyhouseError):
    status = 400
    code = "bad_request"
    default_message = "Bad request."


class ValidationFailed(BadRequest):
    status = 422
    code = "validation_error"
    default_message = "The request is not valid."


class UpstreamURLRefused(BadRequest):
    code = "upstream_url_refused"
    default_message = "That upstream URL is not allowed."


class Unauthorized(KeyhouseError):
    status = 401
    code = "unauthorized"
    default_message = "A valid token is required."


class Forbidden(KeyhouseError):
    status = 403
    code = "forbidden"
    default_message = "This token may not do that."


class AmbientCredentialsDisabled(Forbidden):
    """The key acts as the server's own cloud identity, which the operator has not allowed
    (``KEYHOUSE_ALLOW_AMBIENT_CREDENTIALS``). 403, not 5xx: nothing upstream failed and
    asking again cannot help (clients retry 5xx); only the operator's setting can."""

    code = "ambient_credentials_disabled"
    default_message = (
        "This key uses the server's own cloud identity, which is off on this server; "
        "the operator allows it with KEYHOUSE_ALLOW_AMBIENT_CREDENTIALS=true."
    )


class NotFound(KeyhouseError):
    status = 404
    code = "not_found"
    default_message = "Not found."


class ModelNotFound(NotFound):
    """The ``model`` a gateway caller named is not an endpoint (OpenAI's own code)."""

    code = "model_not_found"
    default_message = "No endpoint has that name."


class MethodNotAllowed(KeyhouseError):
    status = 405
    code = "method_not_allowed"
    default_message = "Method not allowed."


class Conflict(KeyhouseError):
    status = 409
    code = "conflict"
    default_message = "Conflict."


class AlreadyExists(Conflict):
    code = "already_exists"
    default_message = "That name is taken."


class KeyInUse(Conflict):
    code = "key_in_use"
    default_message = "The key is used by endpoints."


class PreconditionFailed(KeyhouseError):
    status = 412
    code = "version_mismatch"
    default_message = "The resource changed since you read it."


class PayloadTooLarge(KeyhouseError):
    status = 413
    code = "payload_too_large"
    default_message = "The request body is too large."


class RateLimited(KeyhouseError):
    """A limit of the caller's token, the endpoint or its key refuses the call for now."""

    status = 429
    code = "rate_limit_exceeded"
    default_message = "Rate limit exceeded; retry after the time in Retry-After."


class BudgetExceeded(RateLimited):
    code = "budget_exceeded"
    default_message = "The budget for this period is spent."


class Unsupported(KeyhouseError):
    status = 501
    code = "unsupported"
    default_message = "The provider does not support that."


class Unavailable(KeyhouseError):
    status = 503
    code = "unavailable"
    default_message = "Temporarily unavailable."


class NoKey(Unavailable):
    code = "endpoint_has_no_key"
    default_message = "The endpoint has no usable API key; give it another key."


class LimitsUnavailable(Unavailable):
    """The shared limit store is unreachable and the operator chose to refuse calls then
    (``KEYHOUSE_LIMITS_ON_STORE_ERROR=reject``) rather than run without shared limits."""

    code = "limits_unavailable"
    default_message = "Limits cannot be checked right now; retry shortly."


class UpstreamError(KeyhouseError):
    """The provider answered with an error, or could not be reached.

    ``retryable`` tells the router whether another attempt or a fallback target may help;
    ``retry_after`` carries the upstream's Retry-After in seconds when it sent one.
    """

    status = 502
    code = "upstream_error"
    default_message = "The provider returned an error."
    retryable: ClassVar[bool] = True

    def __init__(
        self,
        message: str | None = None,
        *,
        upstream_status: int | None = None,
        retry_after: float | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message, **details)
        self.upstream_status = upstream_status
        self.retry_after = retry_after


class UpstreamAuthFailed(UpstreamError):
    status = 401
    code = "upstream_auth_failed"
    default_message = "The provider rejected the key's credential."
    retryable = False


class UpstreamNotFound(UpstreamError):
    status = 404
    code = "upstream_not_found"
    default_message = "The provider does not know that model or resource."
    retryable = False


class UpstreamBadRequest(UpstreamError):
    status = 400
    code = "upstream_bad_request"
    default_message = "The provider refused the request."
    retryable = False


class UpstreamRateLimited(UpstreamError):
    status = 429
    code = "upstream_rate_limited"
    default_message = "The provider is rate limiting this key."


class UpstreamUnavailable(UpstreamError):
    status = 503
    code = "upstream_unavailable"
    default_message = "The provider is unavailable."


class UpstreamTimeout(UpstreamError):
    status = 504
    code = "upstream_timeout"
    default_message = "The provider did not answer in time."


class VaultError(KeyhouseError):
    code = "vault_error"
    default_message = "The credential store could not complete the operation."


class DecryptionFailed(VaultError):
    code = "decryption_failed"
    default_message = "A stored credential could not be decrypted."


class KekConfigError(VaultError):
    code = "kek_config_error"
    default_message = "The key-encryption key is missing or wrong."


class CredentialRefreshFailed(UpstreamError):
    """A keyless auth method (cloud identity, OAuth client credentials) got no token."""

    status = 502
    code = "credential_refresh_failed"
    default_message = "The key's auth method could not obtain a credential."
    # The fetch retried inside its library and still runs in the background; another
    # try on the same target would wait on that same fetch. A fallback target may help.
    retryable = False


class KmsUnavailable(VaultError):
    status = 503
    code = "kms_unavailable"
    default_message = "The KMS that holds the key-encryption key cannot be reached."
