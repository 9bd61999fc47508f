"""Before a command that works on the store directly (``kek``, ``db backup``) touches it:
is there a Keyhouse store where the settings point? Say what is wrong, in words a user
can act on, instead of a generic "database is unavailable" — and never create an empty
database or a new KEK as a side effect of looking."""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

import click
from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from keyhouse.settings import Settings
from keyhouse.store.db import make_engine

# A table every revision of the schema has.
MARKER_TABLE = "kek_versions"


class StoreProblem(click.ClickException):
    exit_code = 2

    def show(self, file: IO[Any] | None = None) -> None:
        click.secho(f"keyhouse: {self.message}", fg="red", err=True)


def _where(settings: Settings) -> str:
    if settings.database_url:
        return "KEYHOUSE_DATABASE_URL"
    return f"KEYHOUSE_HOME ({settings.home})"


def sqlite_path(settings: Settings) -> Path | None:
    url = make_url(settings.resolved_database_url)
    if not url.drivername.startswith("sqlite") or not url.database:
        return None
    return Path(url.database)


def check_store(settings: Settings) -> None:
    """Raise ``StoreProblem`` unless the configured database exists and has Keyhouse's
    tables."""
    path = sqlite_path(settings)
    if path is not None and not path.exists():
        home = "" if settings.home.exists() else f" (the folder {settings.home} does not exist)"
        raise StoreProblem(
            f"no Keyhouse database at {path}{home}. Check {_where(settings)}: it must "
            "point at the server's data folder, or at its database through "
            "KEYHOUSE_DATABASE_URL. `keyhouse serve` creates a new one on first start."
        )
    shown = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
    engine = make_engine(settings.resolved_database_url)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:300]
        raise StoreProblem(
            f"cannot open the database {shown}: {reason}. Check {_where(settings)}."
        ) from None
    finally:
        engine.dispose()
    if MARKER_TABLE not in tables:
        raise StoreProblem(
            f"{shown} is not a Keyhouse database (it has no {MARKER_TABLE} table). Check "
            f"{_where(settings)}, or run `keyhouse db upgrade` to create the tables there."
        )


def check_kek_file(settings: Settings) -> None:
    """A status or rotation needs the KEK the server uses; it must never make a new one.

    The one exception: when the store's KEK versions live in a KMS, a missing key file is
    where a rotation back to a file will put the new key (see store/kek_targets.py)."""
    if settings.kek_passphrase is not None or settings.kek_provider not in ("file", None):
        return
    path = settings.resolved_kek_file
    if not path.exists() and not _kms_versions(settings):
        setting = "KEYHOUSE_KEK_FILE" if settings.kek_file else f"KEYHOUSE_HOME ({settings.home})"
        raise StoreProblem(
            f"no KEK file at {path}. Check {setting}, or set KEYHOUSE_KEK_PASSPHRASE if "
            "the server derives its KEK from a passphrase."
        )


def _kms_versions(settings: Settings) -> bool:
    """Whether any KEK version of the store lives outside a key file or passphrase."""
    engine = make_engine(settings.resolved_database_url)
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT DISTINCT source FROM kek_versions").all()
    except SQLAlchemyError:
        return False
    finally:
        engine.dispose()
    return any(source not in ("file", "passphrase") for (source,) in rows)
