"""A consistent copy of a live SQLite store (``keyhouse db backup``)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from pathlib import Path


def sqlite_backup(source: Path, target: Path) -> str:
    """Copy ``source`` to ``target`` with SQLite's online backup API; return a summary.

    The copy is one snapshot (one read transaction, so a concurrent write is either all in
    or all out), written to a temporary file beside ``target`` and renamed over it only
    once it passed an integrity check, so a failed backup never leaves a half-written
    file where a good one was. It is one self-contained file (no -wal), mode 0600: it
    holds sealed credentials and token hashes.
    """
    target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        src = sqlite3.connect(source, timeout=30)
        try:
            dst = sqlite3.connect(tmp)
            try:
                src.backup(dst)  # all pages in one step: a single consistent snapshot
                dst.execute("PRAGMA journal_mode=DELETE")
                (check,) = dst.execute("PRAGMA integrity_check").fetchone()
                if check != "ok":
                    raise RuntimeError(f"the copy failed SQLite's integrity check: {check}")
                summary = _summary(dst)
            finally:
                dst.close()
        finally:
            src.close()
        tmp.chmod(0o600)
        tmp.replace(target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return summary


def _summary(conn: sqlite3.Connection) -> str:
    def count(table: str) -> int:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608

    (revision,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return (
        f"{count('api_keys')} API keys, {count('endpoints')} endpoints, "
        f"{count('access_tokens')} access tokens, schema revision {revision}"
    )
