"""AWS's own KMS and STS on 127.0.0.1, from moto in server mode, with IAM enforced.

``start_aws()`` runs moto's server on a free port, creates (while moto still lets
anonymous calls through) an IAM user whose access keys Keyhouse uses, a symmetric KMS key
that user may Encrypt/Decrypt with, a second key it may not touch, and a role the user
may assume — then switches moto's IAM checks on. From then on every request must carry a
valid SigV4 signature made with known access keys (moto's own verification) and be
allowed by IAM policy: an unsigned or wrongly signed request gets AWS's 403.

Every ``AssumeRole`` moto grants is recorded in its STS backend; ``assumed_credentials``
lets the Bedrock fake accept exactly those session credentials, as AWS does.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from keyhouse.testing.fakes.server import free_port

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"


@dataclass
class Aws:
    url: str
    access_key_id: str
    secret_access_key: str
    kms_key_arn: str
    other_kms_key_arn: str  # exists, but the user may not use it
    role_arn: str
    external_id: str
    foreign_role_arn: str = ""  # a role whose trust policy does not name the user

    def client(self, service: str, **keys: str) -> Any:
        import botocore.session

        session = botocore.session.get_session()
        return session.create_client(
            service,
            region_name=REGION,
            endpoint_url=self.url,
            aws_access_key_id=keys.get("access_key_id", self.access_key_id),
            aws_secret_access_key=keys.get("secret_access_key", self.secret_access_key),
            aws_session_token=keys.get("session_token"),
        )

    def env(self) -> dict[str, str]:
        """The environment that points botocore's default chain at this user."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL_STS": self.url,
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_EC2_METADATA_DISABLED": "true",
        }


def assumed_credentials(access_key_id: str) -> tuple[str, str] | None:
    """(secret, session token) of a role session moto's STS issued, or None."""
    from moto.sts.models import sts_backends

    for backend in sts_backends[ACCOUNT].values():
        for role in backend.assumed_roles:
            if role.access_key_id == access_key_id:
                return role.secret_access_key, role.session_token
    return None


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@contextmanager
def start_aws() -> Iterator[Aws]:
    from moto.server import ThreadedMotoServer

    # moto runs in this process: its server-side request logs (plaintexts included) are
    # AWS's side of the wire, not the gateway's, and must not mix with the gateway's logs.
    for name in ("moto", "werkzeug"):
        logging.getLogger(name).setLevel(logging.WARNING)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    try:
        httpx.post(f"{url}/moto-api/reset")
        boot = Aws(url, "AKIAIOSFODNN7BOOTSTR", "bootstrap", "", "", "", "")
        iam, kms = boot.client("iam"), boot.client("kms")
        key = kms.create_key(Description="keyhouse kek")["KeyMetadata"]["Arn"]
        other = kms.create_key(Description="someone else's key")["KeyMetadata"]["Arn"]
        external_id = "keyhouse-external-id"
        user = iam.create_user(UserName="keyhouse")["User"]["Arn"]
        role = iam.create_role(
            RoleName="keyhouse-bedrock",
            AssumeRolePolicyDocument=_policy(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": user},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
                }
            ),
        )["Role"]["Arn"]
        foreign = iam.create_role(
            RoleName="someone-elses",
            AssumeRolePolicyDocument=_policy(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/other"},
                    "Action": "sts:AssumeRole",
                }
            ),
        )["Role"]["Arn"]
        iam.put_role_policy(
            RoleName="keyhouse-bedrock",
            PolicyName="invoke",
            PolicyDocument=_policy(
                {"Effect": "Allow", "Action": "bedrock:Invoke*", "Resource": "*"}
            ),
        )
        # moto authorizes KMS calls against resource "*" only, so the key ARN of the real
        # least-privilege policy (docs/security.md) cannot be written here; the KeyId on
        # every Decrypt is what keeps the other key's ciphertexts out.
        iam.put_user_policy(
            UserName="keyhouse",
            PolicyName="kek",
            PolicyDocument=_policy(
                {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"},
                {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"},
            ),
        )
        access = iam.create_access_key(UserName="keyhouse")["AccessKey"]
        # From here on moto authenticates (SigV4) and authorizes (IAM) every request.
        httpx.post(f"{url}/moto-api/reset-auth", content=b"0")
        yield Aws(
            url,
            access["AccessKeyId"],
            access["SecretAccessKey"],
            key,
            other,
            role,
            external_id,
            foreign,
        )
    finally:
        httpx.post(f"{url}/moto-api/reset-auth", content=b"inf")
        server.stop()
