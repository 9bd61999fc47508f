"""Redaction of live secrets: whole values and any 8+ character fragment of them.

docs/security.md: logs at every level (third-party loggers included), error messages and
provider error bodies never contain a credential, nor a fragment of one. ``SecretIndex``
knows the secrets and scrubs text; ``protect_logs`` puts an index in front of every log
handler of the process by redacting each record as it is made, so a handler added later
(uvicorn's, a test's) and a library's debug trace are covered alike.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import weakref
from collections.abc import Callable, Iterable
from typing import Any

REDACTED = "[REDACTED]"
FRAGMENT = 8  # the shortest run of a secret that counts as a leak
# A secret is split at characters an echo may escape or break a line at (a PEM's
# newlines, JSON quotes); each run of the rest is matched on its own.
_RUN = re.compile(rf"[A-Za-z0-9+/=_\-.~:@]{{{FRAGMENT},}}")
# JSON credentials: only these members are secret (the rest names the account).
_SECRET_MEMBERS = ("private_key", "private_key_id", "client_secret", "refresh_token")


class SecretIndex:
    """The 8-character windows of every secret it was given, for O(len(text)) scrubbing."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._wholes: set[str] = set()
        self._grams: frozenset[str] = frozenset()
        self.add(*secrets)

    def __len__(self) -> int:
        return len(self._wholes)

    def __repr__(self) -> str:
        return f"SecretIndex({len(self._wholes)} secret(s))"

    def add(self, *secrets: str) -> None:
        fresh = [s for s in secrets if s and s not in self._wholes]
        if not fresh:
            return
        grams: set[str] = set()
        wholes: set[str] = set()
        for secret in fresh:
            for piece in _pieces(secret):
                wholes.add(piece)
                grams.update(piece[i : i + FRAGMENT] for i in range(len(piece) - FRAGMENT + 1))
        with self._lock:  # copy-on-write: redact() reads without the lock
            self._wholes = self._wholes | set(fresh) | wholes
            self._grams = self._grams | grams

    def redact(self, text: str) -> str:
        wholes, grams = self._wholes, self._grams
        for whole in wholes:
            if len(whole) < FRAGMENT and whole in text:
                text = text.replace(whole, REDACTED)
        if not grams or len(text) < FRAGMENT:
            return text
        spans: list[list[int]] = []
        for i in range(len(text) - FRAGMENT + 1):
            if text[i : i + FRAGMENT] in grams:
                if spans and spans[-1][1] >= i:
                    spans[-1][1] = i + FRAGMENT
                else:
                    spans.append([i, i + FRAGMENT])
        if not spans:
            return text
        out, at = [], 0
        for start, end in spans:
            out += [text[at:start], REDACTED]
            at = end
        out.append(text[at:])
        return "".join(out)


def _pieces(secret: str) -> list[str]:
    """The runs of a secret that must never appear, escaped or not."""
    try:
        data = json.loads(secret)
    except ValueError:
        data = None
    if isinstance(data, dict):
        values = [str(data[k]) for k in _SECRET_MEMBERS if isinstance(data.get(k), str)]
        pieces = [run for v in values for run in _RUN.findall(v)]
        # A PEM's "-----BEGIN PRIVATE KEY-----" is not secret, and is in every error text.
        return [p for p in pieces if not p.strip("-").isalpha()]
    runs = _RUN.findall(secret)
    return runs if runs else [secret]


# --- logs -------------------------------------------------------------------------------
# The log record factory is process-wide, as logging itself is; each app adds its index
# here and the factory scrubs with all of them, until the app shuts down. Weak
# references: an app dropped without a shutdown (tests make many) costs nothing either.
# Counted: two apps over one set of services share an index until both have stopped.
_INDEXES: weakref.WeakKeyDictionary[SecretIndex, int] = weakref.WeakKeyDictionary()
_INSTALLED: list[Callable[..., logging.LogRecord]] = []


def protect_logs(index: SecretIndex) -> None:
    """Scrub every log record of this process with ``index`` from now on."""
    _INDEXES[index] = _INDEXES.get(index, 0) + 1
    if _INSTALLED:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        scrub_record(record)
        return record

    _INSTALLED.append(factory)
    logging.setLogRecordFactory(factory)


def unprotect_logs(index: SecretIndex) -> None:
    """An app holding ``index`` has shut down; the last one out takes the index away."""
    left = _INDEXES.get(index, 0) - 1
    if left > 0:
        _INDEXES[index] = left
    else:
        _INDEXES.pop(index, None)


def scrub_record(record: logging.LogRecord) -> None:
    indexes = list(_INDEXES.keys())
    if not any(len(i) for i in indexes):
        return
    try:
        message = record.getMessage()
    except Exception:  # a malformed record is the handler's problem, not ours
        message = str(record.msg)
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    for index in indexes:
        message = index.redact(message)
        if record.exc_text:
            record.exc_text = index.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = index.redact(record.stack_info)
    # Formatted once, here: a handler that formats again finds no args to re-insert.
    record.msg, record.args = message, None
    if record.exc_info:
        record.exc_info = None  # the scrubbed exc_text is what handlers print
