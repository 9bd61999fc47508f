"""``keyhouse keys``: provider API keys, through ``/api/v1/keys``."""

from __future__ import annotations

import click

from keyhouse.cli import key_input
from keyhouse.cli.client import (
    Api,
    ApiError,
    CliError,
    Obj,
    fields_block,
    find,
    parse_pairs,
    print_json,
    table,
    usage,
    when,
    with_api,
)
from keyhouse.cli.limits import describe, limit_options, limits_change
from keyhouse.providers import catalog
from keyhouse.providers.catalog import AuthMethod

SECRET_FILE_HELP = "Read a secret field from a file (repeatable)."
STDIN_HELP = (
    "Read secrets from stdin: a JSON object of secret fields, or the bare value "
    "of the auth method's single secret field."
)


@click.group()
def keys() -> None:
    """Provider API keys (secrets are read from files, stdin or a prompt, never argv)."""


def masks(key: Obj) -> str:
    return "  ".join(f"{name}={mask}" for name, mask in key.get("masked", {}).items()) or "-"


def endpoint_names(key: Obj) -> str:
    return ", ".join(e["name"] for e in key.get("endpoints", [])) or "-"


def all_keys(api: Api) -> list[Obj]:
    keys_: list[Obj] = api.get("/keys")["keys"]
    return keys_


def resolve_key(api: Api, name_or_id: str) -> Obj:
    return find(all_keys(api), name_or_id, "API key")


@keys.command("providers")
@click.argument("provider", required=False)
def providers(provider: str | None) -> None:
    """List the providers, or one provider's auth methods and fields."""
    if provider is None:
        click.echo(
            table(
                ["PROVIDER", "NAME", "AUTH METHODS"],
                [
                    [p.id, p.display_name, ", ".join(m.id for m in p.auth_methods)]
                    for p in catalog.PROVIDERS
                ],
            )
        )
        return
    spec, _ = key_input.resolve_method(provider, None)
    click.echo(f"{spec.display_name} ({spec.id})")
    for method in spec.auth_methods:
        click.echo(f"  {key_input.describe_method(method)}")


@keys.command("list")
@click.option("--provider", "-p", help="Only keys of this provider.")
@click.option("--search", "-s", help="Only keys whose name or description contains this.")
@click.option("--due", is_flag=True, help="Only keys whose credential is due for rotation.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
@with_api
def list_keys(api: Api, provider: str | None, search: str | None, due: bool, as_json: bool) -> None:
    """List API keys with their masked credentials and the endpoints using them."""
    params = {k: v for k, v in (("provider", provider), ("search", search)) if v}
    items: list[Obj] = api.get("/keys", params)["keys"]
    if due:
        items = [k for k in items if k.get("rotation_due")]
    if as_json:
        print_json(items)
        return
    if not items:
        click.echo("No API keys due for rotation." if due else "No API keys.", err=True)
        return
    click.echo(
        table(
            ["NAME", "PROVIDER", "AUTH METHOD", "CREDENTIAL", "ENDPOINTS", "AGE", "UPDATED"],
            [
                [
                    k["name"],
                    k["provider"],
                    k["auth_method"],
                    masks(k),
                    endpoint_names(k),
                    credential_age(k),
                    when(k.get("updated_at")),
                ]
                for k in items
            ],
        )
    )


def credential_age(key: Obj) -> str:
    age = f"{key.get('credential_age_days', 0)}d"
    return f"{age} (rotation due)" if key.get("rotation_due") else age


def show_key(key: Obj) -> None:
    config = key.get("config") or {}
    click.echo(
        fields_block(
            [
                ("name", key["name"]),
                ("id", key["id"]),
                ("provider", f"{key.get('provider_display_name', '')} ({key['provider']})"),
                ("auth method", key["auth_method"]),
                ("description", key.get("description") or "-"),
                ("credential", masks(key)),
                ("config", "  ".join(f"{k}={v}" for k, v in config.items()) or "-"),
                ("endpoints", endpoint_names(key)),
                ("version", str(key.get("version", ""))),
                ("created", when(key.get("created_at"))),
                ("updated", when(key.get("updated_at"))),
                ("secret changed", when(key.get("credential_updated_at"))),
                ("credential age", credential_age(key)),
                (
                    "rotate after",
                    f"{key['rotate_after_days']} days" if key.get("rotate_after_days") else "-",
                ),
                ("limits", describe(key.get("limits"))),
            ]
        )
    )


@keys.command("get")
@click.argument("name_or_id")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
@with_api
def get_key(api: Api, name_or_id: str, as_json: bool) -> None:
    """Show one API key (masked)."""
    key = resolve_key(api, name_or_id)
    if as_json:
        print_json(key)
    else:
        show_key(key)


@keys.command("create")
@click.argument("name")
@click.option("--provider", "-p", required=True, help="Provider id (see `keys providers`).")
@click.option("--auth-method", "-m", help="Auth method id (default: the provider's first).")
@click.option(
    "--config",
    "-c",
    "config",
    multiple=True,
    metavar="FIELD=VALUE",
    help="A non-secret setting, e.g. base_url (repeatable).",
)
@click.option("--description", "-d", default="", help="Free text.")
@click.option(
    "--rotate-after-days",
    type=click.IntRange(1, 3650),
    help="Flag the credential as due for rotation after this many days.",
)
@click.option("--secret-file", multiple=True, metavar="FIELD=PATH", help=SECRET_FILE_HELP)
@click.option("--stdin", "from_stdin", is_flag=True, help=STDIN_HELP)
@limit_options
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
@with_api
def create_key(
    api: Api,
    name: str,
    provider: str,
    auth_method: str | None,
    config: tuple[str, ...],
    description: str,
    rotate_after_days: int | None,
    secret_file: tuple[str, ...],
    from_stdin: bool,
    rpm: int | None,
    tpm: int | None,
    max_concurrent: int | None,
    budget: str | None,
    no_limits: bool,
    as_json: bool,
) -> None:
    """Store a new API key. Missing required secrets are asked for at a hidden prompt."""
    _, limits = limits_change(None, rpm, tpm, max_concurrent, budget, no_limits)
    spec, method = key_input.resolve_method(provider, auth_method)
    settings = key_input.with_defaults(
        method, key_input.config_values(method, parse_pairs(config, "--config"))
    )
    secrets = key_input.gather_secrets(
        method, parse_pairs(secret_file, "--secret-file"), from_stdin
    )
    secrets |= key_input.prompt_secrets(
        key_input.missing_required(method, secrets), "missing required secret"
    )
    body: Obj = {
        "name": name,
        "provider": spec.id,
        "auth_method": method.id,
        "credentials": secrets,
        "config": settings,
        "description": description,
    }
    if rotate_after_days:
        body["rotate_after_days"] = rotate_after_days
    if limits:
        body["limits"] = limits
    key = api.post("/keys", body)
    if as_json:
        print_json(key)
    else:
        click.echo(
            f"Created key {key['name']} ({key['provider']}/{key['auth_method']}): {masks(key)}"
        )


def _ask_for_redirect(
    method: AuthMethod, key: Obj, config: dict[str, str | None], secrets: dict[str, str]
) -> dict[str, str]:
    """Changing a destination field requires every stored secret again (the server
    insists, so a stolen admin session cannot point a key at its own host); ask for them
    up front."""
    moved = [
        n
        for n in method.destination_fields
        if n in config and config[n] != key.get("config", {}).get(n)
    ]
    if not moved:
        return {}
    held = set(key.get("masked", {}))
    missing = [
        f
        for f in method.secret_fields
        if (f.required or f.name in held) and not secrets.get(f.name)
    ]
    why = f"changing {', '.join(moved)} requires re-entering"
    return key_input.prompt_secrets(missing, why) if missing else {}


@keys.command("update")
@click.argument("name_or_id")
@click.option("--name", "new_name", help="Rename the key.")
@click.option("--description", "-d", help="New description.")
@click.option(
    "--config",
    "-c",
    "config",
    multiple=True,
    metavar="FIELD=VALUE",
    help="Set a non-secret setting (repeatable).",
)
@click.option("--unset-config", multiple=True, metavar="FIELD", help="Remove a setting.")
@click.option(
    "--secret",
    "ask",
    multiple=True,
    metavar="FIELD",
    help="Prompt (hidden) for a new value of this secret field (repeatable).",
)
@click.option("--secret-file", multiple=True, metavar="FIELD=PATH", help=SECRET_FILE_HELP)
@click.option("--stdin", "from_stdin", is_flag=True, help=STDIN_HELP)
@click.option(
    "--if-match",
    type=int,
    metavar="VERSION",
    help="Refuse if the key is no longer at this version.",
)
@click.option(
    "--rotate-after-days",
    type=click.IntRange(0, 3650),
    help="Rotation reminder in days (0 turns it off).",
)
@limit_options
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
@with_api
def update_key(
    api: Api,
    name_or_id: str,
    new_name: str | None,
    description: str | None,
    config: tuple[str, ...],
    unset_config: tuple[str, ...],
    ask: tuple[str, ...],
    secret_file: tuple[str, ...],
    from_stdin: bool,
    if_match: int | None,
    rotate_after_days: int | None,
    rpm: int | None,
    tpm: int | None,
    max_concurrent: int | None,
    budget: str | None,
    no_limits: bool,
    as_json: bool,
) -> None:
    """Change a key: rename, describe, reconfigure or replace secrets (others are kept)."""
    key = resolve_key(api, name_or_id)
    _, method = key_input.resolve_method(key["provider"], key["auth_method"])
    changes: dict[str, str | None] = dict(
        key_input.config_values(method, parse_pairs(config, "--config"))
    )
    key_input.check_config_names(method, unset_config, "--unset-config")
    changes |= dict.fromkeys(unset_config)
    secrets = key_input.gather_secrets(
        method, parse_pairs(secret_file, "--secret-file"), from_stdin, ask
    )
    secrets |= _ask_for_redirect(method, key, changes, secrets)
    body: Obj = {
        "name": new_name,
        "description": description,
        "config": changes or None,
        "credentials": secrets or None,
        "rotate_after_days": rotate_after_days,
    }
    body = {k: v for k, v in body.items() if v is not None}
    changed, limits = limits_change(key.get("limits"), rpm, tpm, max_concurrent, budget, no_limits)
    if changed:
        body["limits"] = limits
    if not body:
        raise usage(
            "nothing to change: give --name, --description, --config, "
            "--unset-config, --secret, --secret-file, --stdin, --rotate-after-days "
            "or a limit option"
        )
    updated = api.patch(f"/keys/{key['id']}", body, if_match)
    if as_json:
        print_json(updated)
        return
    users = updated.get("endpoints", [])
    used = f": {endpoint_names(updated)}" if users else ""
    click.echo(
        f"Updated key {updated['name']} (version {updated.get('version')}); "
        f"used by {len(users)} endpoint(s){used}"
    )


def in_use_error(key_name: str, endpoints: list[Obj]) -> CliError:
    return CliError(
        f"key_in_use: key {key_name!r} is used by {len(endpoints)} endpoint(s); "
        "give them another key first, or pass --force",
        details=[f"endpoint {e.get('name')}" for e in endpoints],
    )


@keys.command("delete")
@click.argument("name_or_id")
@click.option(
    "--force",
    is_flag=True,
    help="Delete even when endpoints use it (they answer 503 until given a key).",
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@with_api
def delete_key(api: Api, name_or_id: str, force: bool, yes: bool) -> None:
    """Delete an API key; refused while endpoints use it unless --force."""
    key = resolve_key(api, name_or_id)
    users: list[Obj] = key.get("endpoints", [])
    if users and not force:
        raise in_use_error(key["name"], users)
    if not yes:
        extra = f" ({len(users)} endpoint(s) will have no key)" if users else ""
        click.confirm(f"Delete key {key['name']}{extra}?", abort=True, err=True)
    try:
        api.delete(f"/keys/{key['id']}", {"force": "true"} if force else None)
    except ApiError as exc:  # someone attached it meanwhile
        if exc.code == "key_in_use":
            raise in_use_error(key["name"], list(exc.body.get("endpoints", []))) from None
        raise
    click.echo(f"Deleted key {key['name']}")
    if users:
        click.echo(f"warning: these endpoints have no key now: {endpoint_names(key)}", err=True)
