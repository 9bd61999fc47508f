"""AWS credentials without a stored long-term secret: botocore's default chain
(environment, shared config, web identity, container and instance metadata), and STS
AssumeRole on top of that chain or of access keys stored with the key."""

from __future__ import annotations

import datetime as dt
from typing import Any

from keyhouse.errors import KeyhouseError
from keyhouse.providers.base import Credential

# The chain's own credentials refresh themselves inside botocore; re-reading them this
# often keeps a rotated instance-role credential from being held past its expiry.
CHAIN_REREAD_SECONDS = 600.0
ROLE_SECONDS = 3600


def _session() -> Any:
    import botocore.session

    from keyhouse.vault.kms.aws import quiet_botocore

    quiet_botocore()
    return botocore.session.Session()


def _config(timeout: float) -> Any:
    from botocore.config import Config

    return Config(
        connect_timeout=timeout,
        read_timeout=timeout,
        retries={"max_attempts": 2, "mode": "standard"},
    )


def chain_credentials(credential: Credential) -> tuple[dict[str, str], float]:
    creds = _session().get_credentials()
    if creds is None:
        raise KeyhouseError("botocore's chain found no credentials on this server.")
    frozen = creds.get_frozen_credentials()
    return _secrets(frozen.access_key, frozen.secret_key, frozen.token), CHAIN_REREAD_SECONDS


def assumed_role_credentials(
    credential: Credential, timeout: float = 5.0
) -> tuple[dict[str, str], float]:
    from botocore.exceptions import BotoCoreError, ClientError

    secrets = credential.secrets
    region = credential.config.get("region") or None
    keys: dict[str, Any] = {}
    if secrets.get("aws_access_key_id") and secrets.get("aws_secret_access_key"):
        keys = {
            "aws_access_key_id": secrets["aws_access_key_id"],
            "aws_secret_access_key": secrets["aws_secret_access_key"],
        }
    sts = _session().create_client("sts", region_name=region, config=_config(timeout), **keys)
    request: dict[str, Any] = {
        "RoleArn": secrets.get("role_arn", ""),
        "RoleSessionName": secrets.get("session_name") or f"keyhouse-{credential.key_id[:8]}",
        "DurationSeconds": ROLE_SECONDS,
    }
    if secrets.get("external_id"):
        request["ExternalId"] = secrets["external_id"]
    try:
        answer = sts.assume_role(**request)["Credentials"]
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise KeyhouseError(
            f"STS refused AssumeRole: {error.get('Code', 'error')}: "
            f"{str(error.get('Message', ''))[:300]}"
        ) from None
    except BotoCoreError as exc:
        raise KeyhouseError(f"STS could not be asked: {type(exc).__name__}.") from None
    expires: dt.datetime = answer["Expiration"]
    left = (expires - dt.datetime.now(dt.UTC)).total_seconds()
    return _secrets(answer["AccessKeyId"], answer["SecretAccessKey"], answer["SessionToken"]), left


def _secrets(key_id: str, secret: str, token: str | None) -> dict[str, str]:
    out = {"aws_access_key_id": key_id, "aws_secret_access_key": secret}
    if token:
        out["aws_session_token"] = token
    return out
