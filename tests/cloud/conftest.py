"""Cloud services on 127.0.0.1 for the KMS KEK and keyless-auth tests: one moto (AWS KMS
and STS) for the session, and ``kms``, which yields each KMS KEK provider with its
real-protocol server, the settings that select it and the environment its identity needs."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from keyhouse.testing.fakes import azure_identity, google_cloud, vault_transit
from keyhouse.testing.fakes.aws import Aws, start_aws
from keyhouse.testing.fakes.server import ServerThread, free_port, serve
from keyhouse.vault.kms.keyring import KMS_SETTINGS

GCP_KEY = "projects/keyhouse-test/locations/global/keyRings/keyhouse/cryptoKeys/kek"
GCP_OTHER = "projects/keyhouse-test/locations/global/keyRings/keyhouse/cryptoKeys/other"
VAULT_TOKEN = "hvs." + "T" * 24
KINDS = list(KMS_SETTINGS)  # every KMS KEK provider vault/kms/ has


@dataclass
class Kms:
    kind: str
    settings: dict[str, Any]  # Settings fields that select this KMS key
    wrong: dict[str, Any]  # ... another key of the same KMS
    dead: dict[str, Any]  # ... a KMS that is not there
    env: dict[str, str] = field(default_factory=dict)
    server: ServerThread | None = None


@pytest.fixture(scope="session")
def aws_server() -> Iterator[Aws]:
    """moto keeps its state, and whether it enforces IAM, per process: one for all."""
    with start_aws() as aws:
        yield aws


def gce_env(metadata_url: str, tmp: Path) -> dict[str, str]:
    host = metadata_url.removeprefix("http://")
    return {
        "GCE_METADATA_HOST": host,
        "GCE_METADATA_IP": host,
        "CLOUDSDK_CONFIG": str(tmp),
        "GCE_METADATA_DETECT_RETRIES": "1",
        "GOOGLE_CLOUD_PROJECT": "keyhouse-test",
    }


def apply_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name in (
        "GOOGLE_APPLICATION_CREDENTIALS",
        "NO_GCE_CHECK",
        "IDENTITY_ENDPOINT",
        "IDENTITY_HEADER",
        "MSI_ENDPOINT",
        "MSI_SECRET",
        "IMDS_ENDPOINT",
        "AZURE_FEDERATED_TOKEN_FILE",
        "AZURE_CLIENT_ID",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # google-auth reads GCE_METADATA_HOST once, when its metadata module is first imported.
    metadata = sys.modules.get("google.auth.compute_engine._metadata")
    if metadata is not None and "GCE_METADATA_HOST" in env:
        monkeypatch.setattr(metadata, "_GCE_METADATA_HOST", env["GCE_METADATA_HOST"])


@pytest.fixture(params=KINDS)
def kms(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Kms]:
    with ExitStack() as stack:
        yield kms_for(request.param, stack, request, tmp_path, monkeypatch)


def kms_for(
    kind: str,
    stack: ExitStack,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Kms:
    """The KMS ``kind`` with its real-protocol server (stopped with ``stack``) and its
    identity's environment applied."""
    dead_url = f"http://127.0.0.1:{free_port()}"
    if kind == "aws_kms":
        aws = request.getfixturevalue("aws_server")
        base = {"aws_kms_key_id": aws.kms_key_arn, "aws_kms_endpoint_url": aws.url}
        found = Kms(
            kind,
            base,
            {"aws_kms_key_id": aws.other_kms_key_arn},
            {"aws_kms_endpoint_url": dead_url},
            aws.env(),
        )
    elif kind == "gcp_kms":
        kms_app = google_cloud.create_kms_app([GCP_KEY, GCP_OTHER])
        metadata = stack.enter_context(
            serve(google_cloud.create_metadata_app(publish=[kms_app.state.tokens]))
        )
        server = stack.enter_context(serve(kms_app))
        found = Kms(
            kind,
            {"gcp_kms_key_name": GCP_KEY, "gcp_kms_endpoint_url": server.url},
            {"gcp_kms_key_name": GCP_OTHER},
            {"gcp_kms_endpoint_url": dead_url},
            gce_env(metadata.url, tmp_path),
            server,
        )
    elif kind == "azure_keyvault":
        vault_app = azure_identity.create_keyvault_app(("kek", "other"))
        imds = stack.enter_context(
            serve(
                azure_identity.create_imds_app(
                    publish={azure_identity.VAULT_AUDIENCE: vault_app.state.tokens}
                )
            )
        )
        server = stack.enter_context(serve(vault_app))
        found = Kms(
            kind,
            {"azure_keyvault_key_url": f"{server.url}/keys/kek"},
            {"azure_keyvault_key_url": f"{server.url}/keys/other"},
            {"azure_keyvault_key_url": f"{dead_url}/keys/kek"},
            {"AZURE_POD_IDENTITY_AUTHORITY_HOST": imds.url},
            server,
        )
    elif kind == "vault_transit":
        server = stack.enter_context(
            serve(vault_transit.create_app(VAULT_TOKEN, keys=("kek", "other")))
        )
        base = {
            "vault_transit_addr": server.url,
            "vault_transit_key": "kek",
            "vault_transit_token": VAULT_TOKEN,
        }
        found = Kms(
            kind,
            base,
            {"vault_transit_key": "other"},
            {"vault_transit_addr": dead_url},
            {},
            server,
        )
    else:
        raise AssertionError(f"no real-protocol server for the KEK provider {kind!r}")
    apply_env(monkeypatch, found.env)
    return found
