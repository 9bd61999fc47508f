"""``keyhouse kek``: status, add, rotate, retire — run on a host that holds the KEK."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

import click

from keyhouse.cli import preflight
from keyhouse.errors import KeyhouseError
from keyhouse.settings import Settings
from keyhouse.store.store import Store
from keyhouse.vault.kek import KeyFileSource, PassphraseSource
from keyhouse.vault.keyring import Keyring


def _fail(exc: KeyhouseError) -> None:
    click.secho(f"keyhouse: {exc.message}", fg="red", err=True)
    sys.exit(2)


def _open() -> tuple[Settings, Store, KeyFileSource | PassphraseSource, Keyring]:
    from keyhouse.vault.kms.keyring import local_source, open_configured_keyring

    settings = Settings()
    preflight.check_store(settings)
    preflight.check_kek_file(settings)
    store = Store(settings.resolved_database_url)
    # Closed with the command, not left to process exit: run in-process (CliRunner, a
    # test) its pooled connections would outlive it.
    click.get_current_context().call_on_close(store.dispose)
    source = local_source(settings)
    try:
        keyring = open_configured_keyring(settings, store).keyring
    except KeyhouseError as exc:
        _fail(exc)
        raise
    return settings, store, source, keyring


# Test-only: `kek rotate` stops (and waits to be killed) once it has re-wrapped this many
# rows, inside the open transaction of the last one's batch. A test that kills the
# rotation mid-run then does so for certain, however fast or loaded the machine.
PAUSE_ENV = "KEYHOUSE_TEST_KEK_ROTATE_PAUSE_AT"


def _progress(bar: Callable[[int], None]) -> Callable[[int], None]:
    value = os.environ.get(PAUSE_ENV, "")
    if not value.isdigit():
        return bar
    pause_at, seen = int(value), [0]

    def update(n: int) -> None:
        bar(n)
        seen[0] += n
        if seen[0] == pause_at:
            click.echo(f"paused after re-wrapping {pause_at} rows ({PAUSE_ENV})")
            sys.stdout.flush()
            while True:
                time.sleep(3600)

    return update


@click.group()
def kek() -> None:
    """Key-encryption keys: status, online rotation, retirement."""


@kek.command("status")
def kek_status() -> None:
    """KEK versions, their state, and how many rows each one wraps."""
    _, store, _, keyring = _open()
    in_use = store.kek_versions_in_use()
    click.echo(f"{'version':>7}  {'state':<8} {'source':<10} {'configured':<10} {'rows':>5}")
    for record in store.kek_records():
        configured = "yes" if record.version in keyring.versions else "no"
        click.echo(
            f"{record.version:>7}  {record.state:<8} {record.source:<10} "
            f"{configured:<10} {in_use.get(record.version, 0):>5}"
        )


@kek.command("add")
def kek_add() -> None:
    """Add a new KEK version, decrypt-capable but not yet primary.

    With a key file, a new line ``N:BASE64`` is appended to KEYHOUSE_KEK_FILE: copy that
    file to every server (they pick the new version up without a restart), then run
    ``keyhouse kek rotate``."""
    from keyhouse.store.kek_targets import add_version
    from keyhouse.store.kek_versions import add_passphrase, add_to_key_file
    from keyhouse.vault.kms.keyring import KMS_SETTINGS, kms_providers, target_kind

    settings, store, source, keyring = _open()
    try:
        if target_kind(settings) in KMS_SETTINGS:  # a version in KEYHOUSE_KEK_PROVIDER's KMS
            click.echo(add_version(settings, store, keyring, kms_providers(settings))[1])
        elif isinstance(source, KeyFileSource):
            version = add_to_key_file(source, store, keyring)
            click.echo(f"added KEK version {version} to {source.path}")
        else:
            new = click.prompt("New KEK passphrase", hide_input=True, confirmation_prompt=True)
            version = add_passphrase(PassphraseSource(new), store, keyring)
            click.echo(
                f"added KEK version {version}; add the new passphrase as a new line "
                "of KEYHOUSE_KEK_PASSPHRASE on every server (rolling restart)"
            )
    except KeyhouseError as exc:
        _fail(exc)


@kek.command("rotate")
@click.option("--batch", type=int, default=100, show_default=True, help="Rows per commit.")
@click.option(
    "--new",
    "mint",
    is_flag=True,
    help="Start a new rotation: add a KEK version first, in the key file or in "
    "KEYHOUSE_KEK_PROVIDER's KMS (with a passphrase, run 'keyhouse kek add').",
)
def kek_rotate(batch: int, mint: bool) -> None:
    """Promote the KEK version added by 'kek add' and re-wrap every DEK under it, online.

    Each step is restartable: after an interruption, run the same command again and it
    finishes the rotation under way (it never mints a second version). With nothing
    left to do it says so and changes nothing."""
    from keyhouse.store.kek_targets import add_version, primary_elsewhere
    from keyhouse.store.kek_versions import rotate
    from keyhouse.vault.kms.keyring import kms_providers, target_kind

    settings, store, _, keyring = _open()
    kind = target_kind(settings)
    if mint and kind == "passphrase":
        _fail(
            KeyhouseError(
                "--new needs a KEK file or a KMS; with a passphrase, run "
                "'keyhouse kek add' and then 'keyhouse kek rotate'."
            )
        )
        return
    providers = kms_providers(settings)

    def add() -> int:
        version, message = add_version(settings, store, keyring, providers)
        click.echo(message)
        return version

    # A primary outside KEYHOUSE_KEK_PROVIDER's source (the key file while the target is a
    # KMS, or back) starts a rotation there by itself; `rotate` mints only when no earlier
    # rotation is unfinished, so a re-run after an interruption never mints twice.
    if kind != "passphrase" and primary_elsewhere(settings, store, keyring):
        mint = True

    try:
        total = sum(store.kek_versions_in_use().values())
        with click.progressbar(length=total, label="re-wrapping DEKs", file=sys.stderr) as bar:
            done = rotate(
                store,
                keyring,
                mint=add if mint else None,
                batch=batch,
                progress=_progress(bar.update),
            )
    except KeyhouseError as exc:
        _fail(exc)
        return
    if done.did_nothing:
        click.echo(
            f"nothing to do: every row is already on KEK version {done.primary}, "
            "the primary. Run 'keyhouse kek add' (or 'kek rotate --new') to start "
            "a new rotation."
        )
        return
    if done.resumed and mint:
        click.echo(
            "an interrupted rotation was under way: finished it instead of adding "
            "a version; run 'keyhouse kek rotate --new' again to start a new one"
        )
    elif done.resumed:
        click.echo("finished an interrupted rotation")
    if done.promoted is not None:
        click.echo(f"KEK version {done.promoted} is now the primary")
    report = done.rewrap
    click.echo(
        f"done: {report.rewrapped} re-wrapped, {report.already} already on version "
        f"{done.primary}, {report.raced} edited meanwhile (already under the primary)"
    )


@kek.command("retire")
@click.argument("version", type=int)
def kek_retire(version: int) -> None:
    """Retire a KEK version; refused while any row still uses it."""
    from keyhouse.store.kek_versions import retire

    _, store, _, _ = _open()
    try:
        retire(store, version)
    except KeyhouseError as exc:
        _fail(exc)
        return
    click.echo(f"KEK version {version} retired; remove it from every server's KEK source.")
