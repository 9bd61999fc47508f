"""``keyhouse endpoints``: named routes to provider models, through ``/api/v1/endpoints``."""

from __future__ import annotations

from collections.abc import Sequence

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
from keyhouse.cli.limits import describe, limit_options, limits_change

ROLES = ("primary", "fallback")
TARGET_HELP = (
    "KEY:MODEL[:WEIGHT][:fallback] — KEY is an API key's name or id, WEIGHT "
    "1..100 (default 1). Repeatable. A model whose id ends in ':N' (N in 1..100) "
    "needs an explicit weight after it, e.g. KEY:MODEL:1."
)
ALIAS_HELP = (
    "Another model name the endpoint answers to (e.g. an agent's built-in "
    "claude-sonnet-4-5); repeatable."
)


def parse_target(text: str) -> Obj:
    """``KEY:MODEL[:WEIGHT][:fallback]`` → ``{key, model, weight, role}``.

    Model ids may contain colons (``llama3:8b``, Bedrock's ``...-v1:0``), so only a
    trailing role word and then a trailing weight in 1..100 are peeled off the end.
    """
    key, _, rest = text.partition(":")
    role = "primary"
    head, sep, last = rest.rpartition(":")
    if sep and head and last in ROLES:
        role, rest = last, head
    weight = 1
    head, sep, last = rest.rpartition(":")
    if sep and head and last.isdigit() and 1 <= int(last) <= 100:
        weight, rest = int(last), head
    if not key or not rest or rest.startswith(":"):
        raise usage(f"--target {text!r}: expected KEY:MODEL[:WEIGHT][:fallback]")
    return {"key": key, "model": rest, "weight": weight, "role": role}


def format_target(target: Obj) -> str:
    """The inverse of :func:`parse_target`, so listed targets can be pasted back."""
    text = f"{target.get('key_name') or '(no key)'}:{target['model']}"
    if target.get("weight", 1) != 1:
        text += f":{target['weight']}"
    if target.get("role") == "fallback":
        text += ":fallback"
    return text


def resolve_targets(api: Api, texts: Sequence[str]) -> list[Obj]:
    parsed = [parse_target(t) for t in texts]  # usage errors before any request
    keys: list[Obj] = api.get("/keys")["keys"]
    return [
        {
            "key_id": find(keys, t["key"], "API key")["id"],
            "model": t["model"],
            "weight": t["weight"],
            "role": t["role"],
        }
        for t in parsed
    ]


def resolve_endpoint(api: Api, name_or_id: str) -> Obj:
    return find(api.get("/endpoints")["endpoints"], name_or_id, "endpoint")


def _summary(endpoint: Obj) -> str:
    return ", ".join(format_target(t) for t in endpoint.get("targets", [])) or "-"


@click.group()
def endpoints() -> None:
    """Endpoints: the names applications call, routed to provider models."""


@endpoints.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
@with_api
def list_endpoints(api: Api, as_json: bool) -> None:
    """List endpoints with their targets."""
    items: list[Obj] = api.get("/endpoints")["endpoints"]
    if as_json:
        print_json(items)
        return
    if not items:
        click.echo("No endpoints.", err=True)
        return
    click.echo(
        table(
            ["NAME", "TASK", "TARGETS", "ALIASES", "TIMEOUT", "RETRIES", "UPDATED"],
            [
                [
                    e["name"],
                    e["task"],
                    _summary(e),
                    ", ".join(e.get("aliases") or []) or "-",
                    f"{e['timeout_seconds']:g}s",
                    str(e["max_retries"]),
                    when(e.get("updated_at")),
                ]
                for e in items
            ],
        )
    )


def show_endpoint(endpoint: Obj) -> None:
    click.echo(
        fields_block(
            [
                ("name", endpoint["name"]),
                ("id", endpoint["id"]),
                ("task", endpoint["task"]),
                ("description", endpoint.get("description") or "-"),
                ("aliases", ", ".join(endpoint.get("aliases") or []) or "-"),
                ("timeout", f"{endpoint['timeout_seconds']:g}s"),
                ("max retries", str(endpoint["max_retries"])),
                ("limits", describe(endpoint.get("limits"))),
                ("version", str(endpoint.get("version", ""))),
                ("created", when(endpoint.get("created_at"))),
                ("updated", when(endpoint.get("updated_at"))),
            ]
        )
    )
    click.echo("targets:")
    for target in endpoint.get("targets", []):
        provider = target.get("provider") or "no key: answers 503"
        click.echo(f"  {format_target(target)}  ({provider})")


@endpoints.command("get")
@click.argument("name_or_id")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
@with_api
def get_endpoint(api: Api, name_or_id: str, as_json: bool) -> None:
    """Show one endpoint."""
    endpoint = resolve_endpoint(api, name_or_id)
    if as_json:
        print_json(endpoint)
    else:
        show_endpoint(endpoint)


def _settings(
    description: str | None, task: str | None, timeout: float | None, max_retries: int | None
) -> Obj:
    body: Obj = {
        "description": description,
        "task": task,
        "timeout_seconds": timeout,
        "max_retries": max_retries,
    }
    return {k: v for k, v in body.items() if v is not None}


def _common(command: click.decorators.FC) -> click.decorators.FC:
    for option in reversed(
        [
            click.option("--description", "-d", help="Free text."),
            click.option(
                "--task",
                type=click.Choice(["chat", "embeddings"]),
                help="What the endpoint serves (create default: chat).",
            ),
            click.option("--timeout", type=float, metavar="SECONDS", help="Upstream timeout."),
            click.option("--max-retries", type=int, metavar="N", help="Retries, 0..5."),
            click.option("--json", "as_json", is_flag=True, help="Print the API's JSON."),
        ]
    ):
        command = option(command)
    return command


@endpoints.command("create")
@click.argument("name")
@click.option("--target", "-t", "targets", multiple=True, required=True, help=TARGET_HELP)
@click.option("--alias", "-a", "aliases", multiple=True, metavar="MODEL", help=ALIAS_HELP)
@_common
@limit_options
@with_api
def create_endpoint(
    api: Api,
    name: str,
    targets: tuple[str, ...],
    aliases: tuple[str, ...],
    description: str | None,
    task: str | None,
    timeout: float | None,
    max_retries: int | None,
    as_json: bool,
    rpm: int | None,
    tpm: int | None,
    max_concurrent: int | None,
    budget: str | None,
    no_limits: bool,
) -> None:
    """Create an endpoint routed to one or more targets."""
    _, limits = limits_change(None, rpm, tpm, max_concurrent, budget, no_limits)
    body = {
        "name": name,
        "targets": resolve_targets(api, targets),
        **_settings(description, task, timeout, max_retries),
        **({"limits": limits} if limits else {}),
    }
    if aliases:
        body["aliases"] = list(aliases)
    endpoint = api.post("/endpoints", body)
    if as_json:
        print_json(endpoint)
    else:
        click.echo(
            f"Created endpoint {endpoint['name']} ({endpoint['task']}): {_summary(endpoint)}"
        )


@endpoints.command("update")
@click.argument("name_or_id")
@click.option("--name", "new_name", help="Rename the endpoint.")
@click.option(
    "--target",
    "-t",
    "targets",
    multiple=True,
    help=TARGET_HELP + " Any --target replaces the whole list.",
)
@click.option(
    "--alias",
    "-a",
    "aliases",
    multiple=True,
    metavar="MODEL",
    help=ALIAS_HELP + " Any --alias replaces the whole list.",
)
@click.option("--no-aliases", is_flag=True, help="Remove every alias.")
@click.option(
    "--if-match",
    type=int,
    metavar="VERSION",
    help="Refuse if the endpoint is no longer at this version.",
)
@_common
@limit_options
@with_api
def update_endpoint(
    api: Api,
    name_or_id: str,
    new_name: str | None,
    targets: tuple[str, ...],
    aliases: tuple[str, ...],
    no_aliases: bool,
    if_match: int | None,
    description: str | None,
    task: str | None,
    timeout: float | None,
    max_retries: int | None,
    as_json: bool,
    rpm: int | None,
    tpm: int | None,
    max_concurrent: int | None,
    budget: str | None,
    no_limits: bool,
) -> None:
    """Change an endpoint; --target replaces its targets."""
    for text in targets:
        parse_target(text)  # usage errors before any request
    if aliases and no_aliases:
        raise usage("--alias and --no-aliases contradict each other")
    endpoint = resolve_endpoint(api, name_or_id)
    body = _settings(description, task, timeout, max_retries)
    if new_name is not None:
        body["name"] = new_name
    if targets:
        body["targets"] = resolve_targets(api, targets)
    changed, limits = limits_change(
        endpoint.get("limits"), rpm, tpm, max_concurrent, budget, no_limits
    )
    if changed:
        body["limits"] = limits
    if aliases or no_aliases:
        body["aliases"] = list(aliases)
    if not body:
        raise usage(
            "nothing to change: give --name, --target, --alias, --no-aliases, "
            "--description, --task, --timeout, --max-retries or a limit option"
        )
    updated = api.patch(f"/endpoints/{endpoint['id']}", body, if_match)
    if as_json:
        print_json(updated)
    else:
        click.echo(
            f"Updated endpoint {updated['name']} (version {updated.get('version')}): "
            f"{_summary(updated)}"
        )


@endpoints.command("delete")
@click.argument("name_or_id")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@with_api
def delete_endpoint(api: Api, name_or_id: str, yes: bool) -> None:
    """Delete an endpoint (applications calling it by name get an error from then on)."""
    endpoint = resolve_endpoint(api, name_or_id)
    if not yes:
        click.confirm(f"Delete endpoint {endpoint['name']}?", abort=True, err=True)
    api.delete(f"/endpoints/{endpoint['id']}")
    click.echo(f"Deleted endpoint {endpoint['name']}")
