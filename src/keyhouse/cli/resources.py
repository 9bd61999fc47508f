"""The API-client command groups, as ``keyhouse.cli`` imports them.

Each talks to a running server's admin API (``--url`` / ``KEYHOUSE_URL``) with the admin
token from ``KEYHOUSE_ADMIN_TOKEN``, ``--token-file`` or a hidden prompt.
"""

from __future__ import annotations

from keyhouse.cli import key_lifecycle  # noqa: F401 - registers versions, rollback, verify
from keyhouse.cli.endpoints import endpoints
from keyhouse.cli.keys import keys
from keyhouse.cli.tokens import tokens

__all__ = ["endpoints", "keys", "tokens"]
