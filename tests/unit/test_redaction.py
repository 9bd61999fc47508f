"""SecretIndex: whole secrets and every 8+ character fragment go; other text stays."""

from __future__ import annotations

import json
import logging

from keyhouse.redaction import REDACTED, SecretIndex, protect_logs
from keyhouse.testing.fakes.gemini import make_service_account

KEY = "sk-proj-" + "Ab3dEf6hIj9kLm2nOp5q" * 2


def test_whole_and_partial_echoes_are_redacted() -> None:
    index = SecretIndex([KEY])
    for echo in (KEY, KEY[:14], KEY[-10:], KEY[5:13], f"{KEY[:14]}...{KEY[-10:]}"):
        out = index.redact(f"bad key {echo}!")
        assert REDACTED in out and not any(KEY[i : i + 8] in out for i in range(len(KEY) - 7))
    assert index.redact("nothing secret: sk-proj") == "nothing secret: sk-proj"
    assert index.redact(KEY[:7]) == KEY[:7]  # 7 characters are not a fragment


def test_a_service_account_is_redacted_by_its_key_not_its_public_fields() -> None:
    info, _ = make_service_account("https://oauth2.googleapis.com/token")
    index = SecretIndex([json.dumps(info)])
    line = str(info["private_key"]).splitlines()[3]
    assert (
        index.redact(f"key {line[10:30]} for {info['client_email']}")
        == f"key {REDACTED} for {info['client_email']}"
    )
    assert "-----BEGIN PRIVATE KEY-----" in index.redact("-----BEGIN PRIVATE KEY-----")


def test_log_records_are_scrubbed_for_handlers_added_later() -> None:
    index = SecretIndex()
    protect_logs(index)
    index.add(KEY)
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Keep(logging.DEBUG)
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        logger.debug("header %s", KEY[:20])
        try:
            raise ValueError(f"upstream said {KEY[-12:]}")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    assert len(lines) == 2
    assert all(KEY[-8:] not in line and KEY[:8] not in line for line in lines), lines
    assert "ValueError" in lines[1]
