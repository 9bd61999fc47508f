"""The keyless auth methods' adapters: each is the provider's own adapter, handed a call
whose credential holds the short-lived secret a source just produced (so signing, headers
and redaction work exactly as for a stored secret)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable

from botocore.auth import SigV4Auth
from botocore.credentials import Credentials

from keyhouse.errors import UpstreamAuthFailed
from keyhouse.providers.azure import AzureOpenAIAdapter
from keyhouse.providers.base import JSON, Call, Credential
from keyhouse.providers.bedrock import SIGNING_NAME, BedrockAdapter
from keyhouse.providers.catalog import ProviderSpec
from keyhouse.providers.credentials import aws, oauth
from keyhouse.providers.credentials.base import RefreshingCache, in_thread
from keyhouse.providers.gemini import Auth
from keyhouse.providers.openai import DatabricksAdapter
from keyhouse.providers.vertex import VertexAdapter, _with_secrets


def _with(call: Call, extra: dict[str, str]) -> Call:
    secrets = {**call.credential.secrets, **extra}
    return dataclasses.replace(
        call, credential=dataclasses.replace(call.credential, secrets=secrets)
    )


class _Resolving:
    """Resolves the short-lived secret before each capability of the adapter it is mixed
    into; a credential the provider refuses is dropped so the next request fetches anew."""

    secrets: RefreshingCache[dict[str, str]]

    async def _resolve(self, call: Call) -> Call:
        return _with(call, await self.secrets.get(call))

    async def chat(self, call: Call, request: JSON) -> JSON:
        resolved = await self._resolve(call)
        try:
            out: JSON = await super().chat(resolved, request)  # type: ignore[misc]
        except UpstreamAuthFailed:
            self.secrets.forget(call.credential)
            raise
        return out

    async def chat_stream(self, call: Call, request: JSON) -> AsyncIterator[JSON]:
        resolved = await self._resolve(call)
        try:
            async for chunk in super().chat_stream(resolved, request):  # type: ignore[misc]
                yield chunk
        except UpstreamAuthFailed:
            self.secrets.forget(call.credential)
            raise

    async def chat_relayed(self, call: Call, request: JSON) -> JSON | bytes:
        resolved = await self._resolve(call)
        try:
            out: JSON | bytes = await super().chat_relayed(resolved, request)  # type: ignore[misc]
        except UpstreamAuthFailed:
            self.secrets.forget(call.credential)
            raise
        return out

    # Whether the wrapped adapter relays OpenAI-framed streams as bytes (it answers None
    # otherwise, and chat_stream serves); known up front, since resolving is async.
    relays_streams = False

    def chat_stream_relayed(
        self, call: Call, request: JSON, include_usage: bool, on_usage: Callable[[JSON], None]
    ) -> AsyncIterator[bytes] | None:
        if not self.relays_streams:
            return None
        parent = super().chat_stream_relayed  # type: ignore[misc]

        async def relayed() -> AsyncIterator[bytes]:
            resolved = await self._resolve(call)
            try:
                async for piece in parent(resolved, request, include_usage, on_usage):
                    yield piece
            except UpstreamAuthFailed:
                self.secrets.forget(call.credential)
                raise

        return relayed()

    async def embeddings(self, call: Call, request: JSON) -> JSON:
        resolved = await self._resolve(call)
        try:
            out: JSON = await super().embeddings(resolved, request)  # type: ignore[misc]
        except UpstreamAuthFailed:
            self.secrets.forget(call.credential)
            raise
        return out

    async def verify(self, call: Call) -> None:
        self.secrets.forget(call.credential)  # a verify proves a fresh credential
        await super().verify(await self._resolve(call))  # type: ignore[misc]


class _SessionSigners:
    """Bedrock's signer cache, keyed also by the access key id: temporary credentials
    change under an unchanged key version."""

    def __init__(self) -> None:
        self._by_key: dict[str, tuple[tuple[int, str, str], SigV4Auth]] = {}

    def get(self, credential: Credential, region: str) -> SigV4Auth:
        secrets = credential.secrets
        stamp = (credential.version, region, secrets.get("aws_access_key_id", ""))
        hit = self._by_key.get(credential.key_id)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        signer = SigV4Auth(
            Credentials(
                secrets.get("aws_access_key_id", ""),
                secrets.get("aws_secret_access_key", ""),
                secrets.get("aws_session_token") or None,
            ),
            SIGNING_NAME,
            region,
        )
        self._by_key[credential.key_id] = (stamp, signer)
        return signer


class KeylessBedrockAdapter(_Resolving, BedrockAdapter):
    """``default_chain`` and ``assume_role``: SigV4 with credentials from botocore's
    chain or from STS."""

    def __init__(self, spec: ProviderSpec) -> None:
        super().__init__(spec)
        self._signers = _SessionSigners()  # type: ignore[assignment]
        self.secrets = RefreshingCache(in_thread(self._fetch))

    @staticmethod
    def _fetch(credential: Credential) -> tuple[dict[str, str], float]:
        if credential.auth_method == "assume_role":
            return aws.assumed_role_credentials(credential)
        return aws.chain_credentials(credential)


# The mixin's relayed methods are typed as the base adapter's (bytes or JSON, a stream or
# None); the OpenAI family's narrower ones are what they return here.
class OAuthDatabricksAdapter(_Resolving, DatabricksAdapter):  # type: ignore[misc]
    """``oauth_m2m``: a workspace token from the service principal's client credentials."""

    relays_streams = True

    def __init__(self, spec: ProviderSpec) -> None:
        super().__init__(spec)
        self.secrets = RefreshingCache(self._fetch)

    @staticmethod
    async def _fetch(call: Call) -> tuple[dict[str, str], float]:
        token, lifetime = await oauth.databricks_token(call)
        return {"token": token}, lifetime


class AdcVertexAdapter(VertexAdapter):
    """``adc``: Vertex AI with a token of the server's Application Default Credentials."""

    def __init__(self, spec: ProviderSpec) -> None:
        super().__init__(spec)
        self.adc = RefreshingCache(in_thread(oauth.AdcTokens()))

    async def authorize(self, call: Call, stale_token: str | None = None) -> Auth:
        if stale_token:
            self.adc.forget(call.credential)
        token = await self.adc.get(call)
        return Auth(
            _with_secrets(call, access_token=token),
            {"Authorization": f"Bearer {token}"},
            token,
            fresh=stale_token is not None,
        )


class ManagedIdentityAzureAdapter(AzureOpenAIAdapter):
    """``managed_identity``: Azure OpenAI with a token of the server's managed identity."""

    def __init__(self, spec: ProviderSpec) -> None:
        super().__init__(spec)
        self.identity = RefreshingCache(in_thread(oauth.ManagedIdentity()))

    async def _auth_headers(self, call: Call) -> tuple[dict[str, str], str | None]:
        token = await self.identity.get(call)
        return {"Authorization": f"Bearer {token}"}, token

    def _forget_token(self, credential: Credential) -> None:
        self.identity.forget(credential)
