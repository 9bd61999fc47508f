"""How the Bedrock fake authenticates, as AWS does, and AWS's error answers.

A SigV4 request is verified by an implementation of the published algorithm written
here, independent of botocore's signer (so a signer bug cannot cancel itself out): the
canonical request is rebuilt from the raw path, query, headers and body bytes that
arrived, with the path escaped once more as AWS does for every service but S3; the
secret is looked up by the access key id; the date may be five minutes off; a configured
session token must be present. A Bedrock API key is a Bearer token. Failures answer with
AWS's statuses, ``x-amzn-ErrorType`` and ``{"message": ...}`` bodies, which — per the
fakes' convention of a hostile upstream — also echo the presented access key id or token.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import uuid
from collections.abc import Callable
from urllib.parse import quote, unquote

from starlette.responses import JSONResponse, Response

CORAL = "http://internal.amazon.com/coral/com.amazon.coral.service/"
BEDROCK = "http://internal.amazon.com/coral/com.amazon.bedrock/"
SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service "
    "documentation for details."
)
BAD_TOKEN = "The security token included in the request is invalid."
BAD_API_KEY = "Authentication failed: Please make sure your API Key is valid."
MAX_SKEW = dt.timedelta(minutes=5)


class AwsError(Exception):
    def __init__(
        self,
        status: int,
        error_type: str,
        message: str,
        ns: str = BEDROCK,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.error_type, self.message = status, error_type, message
        self.ns, self.headers = ns, headers or {}

    def response(self) -> Response:
        return JSONResponse(
            {"message": self.message},
            status_code=self.status,
            headers={
                "x-amzn-ErrorType": f"{self.error_type}:{self.ns}",
                "x-amzn-RequestId": str(uuid.uuid4()),
                **self.headers,
            },
        )


def invalid(message: str) -> AwsError:
    return AwsError(400, "ValidationException", message)


# --- SigV4 verification, after the published algorithm -----------------------------


def _uri_encode(text: str) -> str:
    return quote(text, safe="-_.~")


def canonical_request(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: list[tuple[str, str]],
    signed: list[str],
    body: bytes,
) -> str:
    # Every service but S3 escapes the (already escaped) path segments a second time.
    path = "/".join(_uri_encode(seg) for seg in raw_path.split("/")) or "/"
    pairs = sorted(
        (_uri_encode(unquote(k)), _uri_encode(unquote(v)))
        for k, _, v in (p.partition("=") for p in raw_query.split("&") if p)
    )
    query = "&".join(f"{k}={v}" for k, v in pairs)
    values: dict[str, list[str]] = {}
    for name, value in headers:
        values.setdefault(name.lower(), []).append(" ".join(value.split()))
    canonical_headers = "".join(f"{h}:{','.join(values.get(h, []))}\n" for h in signed)
    payload_hash = dict(headers).get("x-amz-content-sha256") or hashlib.sha256(body).hexdigest()
    return "\n".join([method, path, query, canonical_headers, ";".join(signed), payload_hash])


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sigv4_signature(secret: str, amz_date: str, scope: str, canonical: str) -> tuple[str, str]:
    date, region, service, terminator = scope.split("/")
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret}".encode(), date), region), service), terminator)
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest(), to_sign


SessionLookup = Callable[[str], "tuple[str, str] | None"]


class Authenticator:
    """``sessions`` looks up temporary credentials an STS issued — (secret, session
    token) by access key id — as AWS itself does for an assumed role's requests."""

    def __init__(
        self,
        access_key_id: str,
        secret_access_key: str,
        session_token: str | None,
        api_key: str | None,
        region: str,
        sessions: SessionLookup | None = None,
    ) -> None:
        self.secrets = {access_key_id: secret_access_key}
        self.session_token, self.api_key, self.region = session_token, api_key, region
        self.sessions = sessions

    def check(
        self,
        method: str,
        raw_path: str,
        raw_query: str,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> None:
        lowered = [(k.lower(), v) for k, v in headers]
        header = dict(lowered)
        auth = header.get("authorization", "")
        if not auth:
            raise AwsError(
                403, "MissingAuthenticationTokenException", "Missing Authentication Token", CORAL
            )
        if auth.startswith("Bearer "):
            token = auth[7:]
            if self.api_key is None or not hmac.compare_digest(token, self.api_key):
                raise AwsError(403, "AccessDeniedException", f"{BAD_API_KEY} (key: {token})")
            return
        scheme, _, rest = auth.partition(" ")
        fields = dict(p.strip().partition("=")[::2] for p in rest.split(","))
        if (
            scheme != "AWS4-HMAC-SHA256"
            or not {"Credential", "SignedHeaders", "Signature"} <= fields.keys()
        ):
            raise AwsError(
                403,
                "IncompleteSignatureException",
                f"Authorization header requires 'Credential', 'SignedHeaders' and "
                f"'Signature' parameters (got: {auth}).",
                CORAL,
            )
        key_id, _, scope = fields["Credential"].partition("/")
        secret = self.secrets.get(key_id)
        expected_token = self.session_token
        issued = self.sessions(key_id) if secret is None and self.sessions else None
        if issued is not None:
            secret, expected_token = issued
        presented_token = header.get("x-amz-security-token")
        if secret is None or presented_token != expected_token:
            raise AwsError(
                403, "UnrecognizedClientException", f"{BAD_TOKEN} (access key id: {key_id})", CORAL
            )
        self._check_date_and_scope(header.get("x-amz-date", ""), scope, key_id)
        signed = fields["SignedHeaders"].split(";")
        if "host" not in signed:
            raise AwsError(
                403,
                "InvalidSignatureException",
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
                CORAL,
            )
        canonical = canonical_request(method, raw_path, raw_query, lowered, signed, body)
        expected, to_sign = sigv4_signature(secret, header["x-amz-date"], scope, canonical)
        if not hmac.compare_digest(expected, fields["Signature"]):
            # AWS's own text; the echo of the key id goes up front, where a truncated
            # error message still carries it.
            raise AwsError(
                403,
                "InvalidSignatureException",
                (
                    f"{SIGNATURE_MISMATCH} (access key id: {key_id})\n\nThe Canonical String for "
                    f"this request should have been\n'{canonical}'\n\nThe String-to-Sign should "
                    f"have been\n'{to_sign}'\n"
                ),
                CORAL,
            )

    def _check_date_and_scope(self, amz_date: str, scope: str, key_id: str) -> None:
        try:
            when = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
        except ValueError:
            raise AwsError(
                403,
                "IncompleteSignatureException",
                "Authorization header requires existence of either a "
                "'X-Amz-Date' or a 'Date' header.",
                CORAL,
            ) from None
        now = dt.datetime.now(dt.UTC)
        stamp = "%Y%m%dT%H%M%SZ"
        if when < now - MAX_SKEW:
            raise AwsError(
                403,
                "InvalidSignatureException",
                f"Signature expired: {amz_date} is now earlier than "
                f"{(now - MAX_SKEW):{stamp}} ({now:{stamp}} - 5 min.)",
                CORAL,
            )
        if when > now + MAX_SKEW:
            raise AwsError(
                403,
                "InvalidSignatureException",
                f"Signature not yet current: {amz_date} is still later than "
                f"{(now + MAX_SKEW):{stamp}} ({now:{stamp}} + 5 min.)",
                CORAL,
            )
        parts = scope.split("/")
        if len(parts) != 4 or parts[0] != amz_date[:8] or parts[3] != "aws4_request":
            raise AwsError(
                403,
                "InvalidSignatureException",
                f"Credential should be scoped to a valid date: {scope} (access key id: {key_id})",
                CORAL,
            )
        if parts[1] != self.region:
            raise AwsError(
                403,
                "InvalidSignatureException",
                f"Credential should be scoped to a valid region. ({parts[1]})",
                CORAL,
            )
        if parts[2] != "bedrock":
            raise AwsError(
                403,
                "InvalidSignatureException",
                "Credential should be scoped to correct service: 'bedrock'. ",
                CORAL,
            )
