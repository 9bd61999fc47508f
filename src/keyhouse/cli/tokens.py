"""``keyhouse tokens``: access tokens applications use to call the gateway."""

from __future__ import annotations

import click

from keyhouse.cli.client import Api, Obj, find, print_json, table, when, with_api


@click.group()
def tokens() -> None:
    """Access tokens for applications calling the gateway."""


def _scope(token: Obj) -> str:
    names = token.get("endpoints")
    return "all endpoints" if names is None else ", ".join(names) or "-"


def _endpoint_names(api: Api, refs: tuple[str, ...]) -> list[str]:
    """The API scopes tokens by endpoint name; accept ids too. Unknown names go through
    unchanged so the server's validation error names them."""
    by_id = {e["id"]: e["name"] for e in api.get("/endpoints")["endpoints"]}
    return [by_id.get(ref, ref) for ref in refs]


@tokens.command("create")
@click.argument("name")
@click.option("--endpoint", "-e", "endpoint_refs", multiple=True, metavar="NAME_OR_ID",
              help="Limit the token to this endpoint (repeatable; default: all endpoints).")
@click.option("--quiet", "-q", is_flag=True, help="Print only the token, e.g. for $(...).")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON (with the token).")
@with_api
def create_token(api: Api, name: str, endpoint_refs: tuple[str, ...], quiet: bool,
                 as_json: bool) -> None:
    """Create an access token. It is printed once, on a line of its own, and never again."""
    body: Obj = {"name": name}
    if endpoint_refs:
        body["endpoints"] = _endpoint_names(api, endpoint_refs)
    created = api.post("/access-tokens", body)
    if as_json:
        print_json(created)
        return
    if not quiet:
        click.echo(f"Access token {created['name']} for {_scope(created)} "
                   "(shown only now; store it safely):", err=True)
    click.echo(created["token"])


@tokens.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
@with_api
def list_tokens(api: Api, as_json: bool) -> None:
    """List access tokens (by their prefix; the tokens themselves are not stored)."""
    items: list[Obj] = api.get("/access-tokens")["access_tokens"]
    if as_json:
        print_json(items)
        return
    if not items:
        click.echo("No access tokens.", err=True)
        return
    click.echo(table(["NAME", "PREFIX", "ENDPOINTS", "CREATED", "ID"],
                     [[t["name"], f"{t['prefix']}…", _scope(t), when(t.get("created_at")),
                       t["id"]] for t in items]))


@tokens.command("delete")
@click.argument("name_or_id")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@with_api
def delete_token(api: Api, name_or_id: str, yes: bool) -> None:
    """Revoke an access token."""
    token = find(api.get("/access-tokens")["access_tokens"], name_or_id, "access token")
    if not yes:
        click.confirm(f"Delete access token {token['name']} ({token['prefix']}…)?",
                      abort=True, err=True)
    api.delete(f"/access-tokens/{token['id']}")
    click.echo(f"Deleted access token {token['name']}")
