"""Turn ``keys create/update`` options into the request's ``credentials`` and ``config``.

Secrets come from files, stdin or hidden prompts only. The local provider catalog tells
which fields exist, so mistakes are caught before anything is sent, with the accepted
fields listed. Error messages name catalog fields but never echo what the user typed
into a field-name slot — that may be a secret typed in the wrong place.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import click

from keyhouse.cli import client
from keyhouse.cli.client import usage
from keyhouse.providers import catalog
from keyhouse.providers.catalog import AuthMethod, FieldSpec, ProviderSpec


def resolve_method(provider: str, auth_method: str | None) -> tuple[ProviderSpec, AuthMethod]:
    spec = catalog.get(provider)
    if spec is None:
        raise usage(
            f"unknown provider {provider!r}",
            [
                f"providers: {', '.join(p.id for p in catalog.PROVIDERS)}",
                "`keyhouse keys providers` lists them with their fields",
            ],
        )
    method = spec.auth_method(auth_method)
    if method is None:
        raise usage(
            f"{spec.id} has no auth method {auth_method!r}",
            [describe_method(m) for m in spec.auth_methods],
        )
    return spec, method


def _names(fields: Sequence[FieldSpec]) -> str:
    return ", ".join(f.name + ("*" if f.required else "") for f in fields) or "none"


def describe_method(method: AuthMethod) -> str:
    line = (
        f"{method.id} ({method.label}) — secrets: {_names(method.secret_fields)}; "
        f"config: {_names(method.config_fields)}  (* required)"
    )
    return f"{line}\n      keyless: {method.notice}" if method.ambient else line


def config_values(
    method: AuthMethod, pairs: Sequence[tuple[str, str]], option: str = "--config"
) -> dict[str, str]:
    config: dict[str, str] = {}
    for name, value in pairs:
        spec = method.field(name)
        if spec is not None and spec.secret:
            raise usage(
                f"{name} is a secret field: give it with --secret-file, --stdin or "
                "the prompt, never on the command line"
            )
        if spec is None:
            raise usage(
                f"{option}: not a config field of auth method {method.id}",
                [f"config fields: {_names(method.config_fields)}"],
            )
        config[name] = value
    return config


def check_config_names(method: AuthMethod, names: Sequence[str], option: str) -> None:
    config_values(method, [(n, "") for n in names], option)


def with_defaults(method: AuthMethod, config: Mapping[str, str]) -> dict[str, str]:
    """Fill the catalog defaults the web form pre-fills, then insist on required fields."""
    filled = {
        f.name: f.default
        for f in method.config_fields
        if f.default is not None and f.name not in config
    }
    result = {**filled, **config}
    missing = [f for f in method.config_fields if f.required and not result.get(f.name)]
    if missing:
        raise usage(
            f"auth method {method.id} needs config {', '.join(f.name for f in missing)}",
            [
                f"--config {f.name}=VALUE  ({f.label}"
                f"{', e.g. ' + f.placeholder if f.placeholder else ''})"
                for f in missing
            ],
        )
    return result


def _secret_field(method: AuthMethod, name: str, option: str) -> FieldSpec:
    spec = method.field(name)
    if spec is None or not spec.secret:
        raise usage(
            f"{option}: not a secret field of auth method {method.id}",
            [f"secret fields: {_names(method.secret_fields)}"],
        )
    return spec


def secret_files(method: AuthMethod, pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    secrets: dict[str, str] = {}
    for name, path in pairs:
        _secret_field(method, name, "--secret-file")
        try:
            value = Path(path).expanduser().read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or "not UTF-8 text"
            raise usage(f"cannot read the secret file for {name}: {reason}") from None
        if not value:
            raise usage(f"the secret file for {name} is empty")
        secrets[name] = value
    return secrets


def single_secret_field(method: AuthMethod) -> FieldSpec | None:
    """The field a bare value on stdin fills: the only required secret field, or else the
    only secret field at all; ``None`` when that is ambiguous."""
    required = [f for f in method.secret_fields if f.required]
    if len(required) == 1:
        return required[0]
    if not required and len(method.secret_fields) == 1:
        return method.secret_fields[0]
    return None


def parse_stdin(method: AuthMethod, text: str) -> dict[str, str]:
    """A JSON object of secret fields, or the bare value of the method's single secret."""
    stripped = text.strip()
    if not stripped:
        raise usage("--stdin: nothing was read from stdin")
    if not method.secret_fields:
        raise usage(f"--stdin: auth method {method.id} takes no secrets")
    try:
        parsed = json.loads(stripped)
    except ValueError:
        parsed = None
    names = {f.name for f in method.secret_fields}
    if isinstance(parsed, dict) and parsed and set(parsed) <= names:
        return {name: _secret_value(method, name, value) for name, value in parsed.items()}
    single = single_secret_field(method)
    if single is None:
        example = json.dumps({f.name: "..." for f in method.secret_fields if f.required})
        raise usage(
            f"--stdin: auth method {method.id} has several secret fields; "
            f"pipe a JSON object such as {example}"
        )
    if isinstance(parsed, dict) and single.kind != "json":
        raise usage(
            f"--stdin: the JSON object's keys are not secret fields of auth method {method.id}",
            [f"secret fields: {_names(method.secret_fields)}"],
        )
    # A service-account JSON document is itself the value of its one field.
    return {single.name: stripped}


def _secret_value(method: AuthMethod, name: str, value: object) -> str:
    spec = method.field(name)
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and spec is not None and spec.kind == "json":
        return json.dumps(value)
    raise usage(f"--stdin: the value of {name} must be a string")


def read_stdin() -> str:
    return sys.stdin.read()


def prompt_secrets(fields: Sequence[FieldSpec], why: str) -> dict[str, str]:
    """Hidden prompts for ``fields``; a clear error when there is no terminal to ask at."""
    if not fields:
        return {}
    names = ", ".join(f.name for f in fields)
    documents = [f.name for f in fields if f.kind == "json"]
    if not client.interactive() or documents:
        hint = (
            f"{documents[0]} is a JSON document"
            if documents
            else "stdin is not a terminal, so there is no prompt"
        )
        raise usage(f"{why}: {names}", [f"{hint}; give --secret-file FIELD=PATH or --stdin"])
    return {
        f.name: str(click.prompt(f"{f.label} ({f.name})", hide_input=True, err=True))
        for f in fields
    }


def merge(*sources: Mapping[str, str]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for source in sources:
        for name, value in source.items():
            if name in merged:
                raise usage(f"the secret {name} was given twice")
            merged[name] = value
    return merged


def gather_secrets(
    method: AuthMethod, files: Sequence[tuple[str, str]], from_stdin: bool, ask: Sequence[str] = ()
) -> dict[str, str]:
    """Secrets from ``--secret-file``, ``--stdin`` and prompts for the ``ask`` fields."""
    given = merge(
        secret_files(method, files), parse_stdin(method, read_stdin()) if from_stdin else {}
    )
    wanted = [_secret_field(method, name, "--secret") for name in dict.fromkeys(ask)]
    return merge(
        given, prompt_secrets([f for f in wanted if f.name not in given], "a value is needed for")
    )


def missing_required(method: AuthMethod, secrets: Mapping[str, str]) -> list[FieldSpec]:
    return [f for f in method.secret_fields if f.required and not secrets.get(f.name)]
