"""``keyhouse keys versions / rollback / verify``: a credential's life after creation."""

from __future__ import annotations

import click

from keyhouse.cli.client import Api, Obj, print_json, table, when, with_api
from keyhouse.cli.keys import keys, masks, resolve_key


@keys.command("versions")
@click.argument("name_or_id")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
@with_api
def versions(api: Api, name_or_id: str, as_json: bool) -> None:
    """The key's current credential and the earlier ones kept for rollback (masked)."""
    key = resolve_key(api, name_or_id)
    items: list[Obj] = api.get(f"/keys/{key['id']}/versions")["versions"]
    if as_json:
        print_json(items)
        return
    click.echo(
        table(
            ["VERSION", "CREDENTIAL", "SET", "REPLACED"],
            [
                [
                    f"{v['version']}{' (current)' if v['current'] else ''}",
                    masks(v),
                    when(v.get("created_at")),
                    when(v.get("replaced_at")) or "-",
                ]
                for v in items
            ],
        )
    )


@keys.command("rollback")
@click.argument("name_or_id")
@click.argument("version", type=int)
@with_api
def rollback(api: Api, name_or_id: str, version: int) -> None:
    """Make an earlier credential version current again."""
    key = resolve_key(api, name_or_id)
    restored = api.post(f"/keys/{key['id']}/rollback", {"version": version})
    click.echo(
        f"Key {restored['name']} uses credential version {version} again, as "
        f"version {restored['credential_version']}: {masks(restored)}"
    )


@keys.command("verify")
@click.argument("name_or_id")
@with_api
def verify(api: Api, name_or_id: str) -> None:
    """Ask the provider whether it accepts the stored credential."""
    key = resolve_key(api, name_or_id)
    result = api.post(f"/keys/{key['id']}/verify", {})
    click.echo(f"{result['status']}: {result['message']}")
    if result["status"] != "ok":
        raise SystemExit(1)
