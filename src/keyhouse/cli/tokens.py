"""``keyhouse tokens``: access tokens applications use to call the gateway."""

from __future__ import annotations

import click

from keyhouse.cli.client import (
    Api,
    Obj,
    fields_block,
    find,
    print_json,
    table,
    usage,
    when,
    with_api,
)
from keyhouse.cli.limits import (
    describe,
    describe_use,
    duration_seconds,
    expires_at,
    limit_options,
    limits_change,
)


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


def _print_secret(token: Obj, quiet: bool, what: str) -> None:
    if not quiet:
        click.echo(
            f"{what} {token['name']} for {_scope(token)} (shown only now; store it safely):",
            err=True,
        )
    click.echo(token["token"])


@tokens.command("create")
@click.argument("name")
@click.option(
    "--endpoint",
    "-e",
    "endpoint_refs",
    multiple=True,
    metavar="NAME_OR_ID",
    help="Limit the token to this endpoint (repeatable; default: all endpoints).",
)
@click.option(
    "--expires",
    metavar="DURATION|TIME",
    help="Expire after this long (30d, 12h) or at this ISO 8601 time.",
)
@limit_options
@click.option("--quiet", "-q", is_flag=True, help="Print only the token, e.g. for $(...).")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON (with the token).")
@with_api
def create_token(
    api: Api,
    name: str,
    endpoint_refs: tuple[str, ...],
    expires: str | None,
    rpm: int | None,
    tpm: int | None,
    max_concurrent: int | None,
    budget: str | None,
    no_limits: bool,
    quiet: bool,
    as_json: bool,
) -> None:
    """Create an access token. It is printed once, on a line of its own, and never again."""
    body: Obj = {"name": name}
    if expires is not None:
        body["expires_at"] = expires_at(expires)
    _, limits = limits_change(None, rpm, tpm, max_concurrent, budget, no_limits)
    if limits:
        body["limits"] = limits
    if endpoint_refs:
        body["endpoints"] = _endpoint_names(api, endpoint_refs)
    created = api.post("/access-tokens", body)
    if as_json:
        print_json(created)
        return
    _print_secret(created, quiet, "Access token")


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
    use = _use(api)
    click.echo(
        table(
            ["NAME", "PREFIX", "ENDPOINTS", "LIMITS", "USE", "EXPIRES", "CREATED", "ID"],
            [
                [
                    t["name"],
                    f"{t['prefix']}…",
                    _scope(t),
                    describe(t.get("limits")),
                    describe_use(use.get(t["id"])),
                    when(t.get("expires_at")) if t.get("expires_at") else "never",
                    when(t.get("created_at")),
                    t["id"],
                ]
                for t in items
            ],
        )
    )


def _use(api: Api) -> dict[str, Obj]:
    """Each limited token's use now, by id (empty while the limit store is down)."""
    answer = api.get("/limits/use", params={"scope": "token"})
    if not answer.get("reachable", True):
        click.echo("note: the limit store is unreachable; use is not shown", err=True)
    return {s["id"]: s for s in answer.get("subjects", [])}


@tokens.command("get")
@click.argument("name_or_id")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
@with_api
def get_token(api: Api, name_or_id: str, as_json: bool) -> None:
    """Show one access token."""
    token = find(api.get("/access-tokens")["access_tokens"], name_or_id, "access token")
    if as_json:
        print_json(token)
        return
    click.echo(
        fields_block(
            [
                ("name", token["name"]),
                ("id", token["id"]),
                ("prefix", f"{token['prefix']}…"),
                ("endpoints", _scope(token)),
                ("limits", describe(token.get("limits"))),
                ("use", describe_use(_use(api).get(token["id"]))),
                ("expires", when(token.get("expires_at")) if token.get("expires_at") else "never"),
                ("rotated", when(token.get("rotated_at")) if token.get("rotated_at") else "-"),
                (
                    "old secret until",
                    when(token.get("previous_valid_until"))
                    if token.get("previous_valid_until")
                    else "-",
                ),
                ("created", when(token.get("created_at"))),
            ]
        )
    )


@tokens.command("update")
@click.argument("name_or_id")
@click.option("--name", "new_name", help="Rename the token.")
@click.option(
    "--endpoint",
    "-e",
    "endpoint_refs",
    multiple=True,
    metavar="NAME_OR_ID",
    help="Scope the token to these endpoints (replaces the list).",
)
@click.option("--all-endpoints", is_flag=True, help="Let the token call every endpoint.")
@click.option(
    "--expires",
    metavar="DURATION|TIME|never",
    help="A new expiry (30d from now, an ISO 8601 time) or 'never'.",
)
@limit_options
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
@with_api
def update_token(
    api: Api,
    name_or_id: str,
    new_name: str | None,
    endpoint_refs: tuple[str, ...],
    all_endpoints: bool,
    expires: str | None,
    rpm: int | None,
    tpm: int | None,
    max_concurrent: int | None,
    budget: str | None,
    no_limits: bool,
    as_json: bool,
) -> None:
    """Change a token's name, scope, expiry or limits (the limits given are merged)."""
    if endpoint_refs and all_endpoints:
        raise usage("--endpoint and --all-endpoints cannot be combined")
    token = find(api.get("/access-tokens")["access_tokens"], name_or_id, "access token")
    body: Obj = {}
    if new_name is not None:
        body["name"] = new_name
    if endpoint_refs:
        body["endpoints"] = _endpoint_names(api, endpoint_refs)
    if all_endpoints:
        body["endpoints"] = None
    if expires is not None:
        body["expires_at"] = None if expires.strip().lower() == "never" else expires_at(expires)
    changed, limits = limits_change(
        token.get("limits"), rpm, tpm, max_concurrent, budget, no_limits
    )
    if changed:
        body["limits"] = limits
    if not body:
        raise usage(
            "nothing to change: give --name, --endpoint, --all-endpoints, --expires "
            "or a limit option"
        )
    updated = api.patch(f"/access-tokens/{token['id']}", body)
    if as_json:
        print_json(updated)
        return
    click.echo(
        f"Updated access token {updated['name']}: {_scope(updated)}; limits "
        f"{describe(updated.get('limits'))}"
    )


@tokens.command("rotate")
@click.argument("name_or_id")
@click.option(
    "--grace",
    metavar="DURATION",
    default="0s",
    show_default=True,
    help="How long the old secret keeps working (e.g. 1h, 15m).",
)
@click.option("--quiet", "-q", is_flag=True, help="Print only the new token.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON (with the token).")
@with_api
def rotate_token(api: Api, name_or_id: str, grace: str, quiet: bool, as_json: bool) -> None:
    """Give a token a new secret; the old one works for --grace, then stops."""
    seconds = duration_seconds(grace, "--grace")
    token = find(api.get("/access-tokens")["access_tokens"], name_or_id, "access token")
    rotated = api.post(f"/access-tokens/{token['id']}/rotate", {"grace_seconds": seconds})
    if as_json:
        print_json(rotated)
        return
    if not quiet:
        until = rotated.get("previous_valid_until")
        click.echo(
            f"The old secret works until {when(until)}."
            if until
            else "The old secret no longer works.",
            err=True,
        )
    _print_secret(rotated, quiet, "New secret of access token")


@tokens.command("delete")
@click.argument("name_or_id")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@with_api
def delete_token(api: Api, name_or_id: str, yes: bool) -> None:
    """Revoke an access token."""
    token = find(api.get("/access-tokens")["access_tokens"], name_or_id, "access token")
    if not yes:
        click.confirm(
            f"Delete access token {token['name']} ({token['prefix']}…)?", abort=True, err=True
        )
    api.delete(f"/access-tokens/{token['id']}")
    click.echo(f"Deleted access token {token['name']}")
