"""Commands that run against the database directly: serve, db, kek."""

from __future__ import annotations

import gc
import logging
import sqlite3
import sys
from pathlib import Path
from typing import Any

import click

from keyhouse.errors import KeyhouseError
from keyhouse.settings import Settings


def _fail(exc: KeyhouseError) -> None:
    click.secho(f"keyhouse: {exc.message}", fg="red", err=True)
    sys.exit(2)


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def _require_free_port(host: str, port: int) -> None:
    """Say plainly that the port is taken (most often by an earlier ``make run``) before
    start-up work, instead of uvicorn's bare errno after it."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return  # uvicorn reports an unusable host itself
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError:
            click.secho(
                f"keyhouse: {host}:{port} is already in use. Is another keyhouse "
                "serve (an earlier `make run`) still running? Stop it, or pick "
                "another port with --port or KEYHOUSE_PORT.",
                fg="red",
                err=True,
            )
            sys.exit(2)


@click.command()
@click.option(
    "--host", default=None, help="Address to bind (default 127.0.0.1; env KEYHOUSE_HOST)."
)
@click.option("--port", type=int, default=None, help="Port (default 5000; env KEYHOUSE_PORT).")
@click.option(
    "--workers",
    type=int,
    default=1,
    show_default=True,
    help="Worker processes; each keeps its own cache and follows edits by poll.",
)
def serve(host: str | None, port: int | None, workers: int) -> None:
    """Serve the admin API, the gateway API and the web UI."""
    # Start-up makes ~100k objects that live as long as the process (modules, mapped
    # classes, schemas) and no garbage; the collector, run over them again and again
    # while they are made, was half the import time of the store's models. The app's
    # lifespan freezes what is alive and turns it back on (tame_gc).
    gc.disable()
    import uvicorn

    from keyhouse.http_protocol import JoiningHttpToolsProtocol
    from keyhouse.services import bootstrap
    from keyhouse.serving import serving_app

    settings = Settings()
    host = host or settings.host
    port = port or settings.port
    configure_logging(settings.log_level)
    _require_free_port(host, port)
    try:
        services = bootstrap(settings)
    except KeyhouseError as exc:
        _fail(exc)
        return
    shown_host = "localhost" if host in ("127.0.0.1", "0.0.0.0", "::") else host
    url = f"http://{shown_host}:{port}/#/gateway"
    if services.generated_kek_file:
        click.secho(
            "\n  A new key-encryption key (KEK) was created at "
            f"{services.generated_kek_file}.\n  BACK IT UP NOW: without it the stored "
            "credentials cannot be decrypted.\n",
            fg="yellow",
            bold=True,
            err=True,
        )
    if services.generated_admin_token:
        click.secho(
            f"\n  Admin token (shown only this once; only its hash is stored):\n\n"
            f"    {services.generated_admin_token}\n\n"
            f"  Sign in at {url}\n",
            fg="green",
            bold=True,
            err=True,
        )
    else:
        click.echo(f"Keyhouse on {url}", err=True)
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": settings.log_level,
        "access_log": settings.access_log,
        "timeout_graceful_shutdown": 30,
        # Nothing here speaks WebSocket; "auto" imported the websockets package.
        "ws": "none",
        # httptools, with each answer's headers sent with its first body bytes.
        "http": JoiningHttpToolsProtocol,
        # No "server: uvicorn" on every answer: it names the software to a scanner.
        "server_header": False,
        # X-Forwarded-* are read by the admin app only (keyhouse.serving): no gateway
        # call uses the client's address or scheme, and the layer cost each call 1.2 %
        # of its instructions.
        "proxy_headers": False,
    }
    if workers > 1:
        gc.enable()  # each worker is a new process that tames its own collector
        services.store.dispose()
        uvicorn.run("keyhouse.serving:serving_app", factory=True, workers=workers, **options)
    else:
        uvicorn.run(serving_app(settings, services), **options)


@click.group()
def db() -> None:
    """Database migrations."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration (run automatically at serve on an embedded SQLite)."""
    from keyhouse.store import db as store_db
    from keyhouse.store.store import Store

    settings = Settings()
    if settings.is_sqlite:
        settings.home.mkdir(parents=True, exist_ok=True, mode=0o700)
    store = Store(settings.resolved_database_url)
    try:
        store_db.upgrade(store.engine)
        click.echo(f"database at revision {store_db.current_revision(store.engine)}")
    finally:
        store.dispose()  # run in-process (tests, a caller's script): no pooled leftovers


@db.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
def db_backup(file: Path, force: bool) -> None:
    """Copy the SQLite store to FILE, consistently, while the server runs.

    Uses SQLite's online backup API: a plain file copy of keyhouse.db misses what is
    still in its write-ahead log (keyhouse.db-wal), and can catch a write half done.
    The KEK is not in the copy: back it up separately (docs/backup.md). For PostgreSQL,
    use pg_dump."""
    from keyhouse.cli import backup, preflight

    settings = Settings()
    source = preflight.sqlite_path(settings)
    if source is None:
        raise preflight.StoreProblem(
            "`keyhouse db backup` copies the embedded SQLite store; this server uses "
            "KEYHOUSE_DATABASE_URL. Back PostgreSQL up with pg_dump (docs/backup.md)."
        )
    preflight.check_store(settings)
    if file.exists() and not force:
        raise preflight.StoreProblem(f"{file} exists; pass --force to overwrite it.")
    try:
        summary = backup.sqlite_backup(source, file)
    except (sqlite3.Error, OSError, RuntimeError) as exc:
        raise preflight.StoreProblem(f"the backup failed, {file} is unchanged: {exc}") from None
    kek = (
        "the KEK passphrase"
        if settings.kek_passphrase is not None
        else f"the KEK file {settings.resolved_kek_file}"
    )
    click.echo(f"backed up {source} to {file}: {summary}.")
    click.echo(
        f"Keep {kek} too, stored apart from this copy: the copy cannot be decrypted without it."
    )
