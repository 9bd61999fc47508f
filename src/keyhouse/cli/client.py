"""What every API-client command shares: the admin-API client, errors, lookups, tables.

The admin token is read from the environment, a file or a hidden prompt — never from
argv, where any local user could read it in ``ps`` output and shells keep it in history.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import os
import ssl
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import click
import httpx

DEFAULT_URL = "http://127.0.0.1:5000"
USER_AGENT = "keyhouse-cli"
TIMEOUT = httpx.Timeout(30.0, connect=5.0)

Obj = dict[str, Any]


class CliError(click.ClickException):
    """Shown as ``error: <message>`` (plus indented detail lines) on stderr.

    Exit code 1 for errors the server reported, 2 for mistakes in the command line.
    """

    exit_code = 1

    def __init__(self, message: str, details: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.details = list(details)

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.message}", err=True)
        for line in self.details:
            click.echo(f"  {line}", err=True)


class ApiError(CliError):
    """An error answer of the admin API: ``{"error": {"code", "message", ...}}``."""

    def __init__(self, status: int, code: str, message: str, body: Mapping[str, Any]) -> None:
        self.status = status
        self.code = code
        self.body = dict(body)
        fields = [f for f in body.get("fields") or [] if isinstance(f, dict)]
        details = [f"{f.get('field', '?')}: {f.get('message', '')}" for f in fields]
        # The server's message repeats the first field's problem: say each one once.
        if fields and str(fields[0].get("message", "")) in message:
            if len(fields) == 1:
                details = []
            else:
                message = f"{len(fields)} fields are not valid"
        super().__init__(f"{code}: {message}", details=details)


class UsageProblem(CliError):
    """A mistake in the command line, found before or without the server."""

    exit_code = 2


def usage(message: str, details: Sequence[str] = ()) -> CliError:
    return UsageProblem(message, details)


def interactive() -> bool:
    """Whether we may prompt. A function of its own so tests can pretend to be a TTY."""
    return sys.stdin.isatty()


def read_admin_token(token_file: Path | None) -> str:
    """``--token-file`` (an explicit choice wins), else ``KEYHOUSE_ADMIN_TOKEN``, else a prompt."""
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise usage(f"cannot read the token file {token_file}: {exc.strerror}") from None
        if not token:
            raise usage(f"the token file {token_file} is empty")
        return token
    token = os.environ.get("KEYHOUSE_ADMIN_TOKEN", "").strip()
    if token:
        return token
    if interactive():
        return str(click.prompt("Admin token", hide_input=True, err=True)).strip()
    raise usage(
        "no admin token: set KEYHOUSE_ADMIN_TOKEN, pass --token-file PATH, "
        "or run in a terminal to be prompted"
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _tls_context(url: str) -> ssl.SSLContext | bool:
    """The default (CA bundle) for https. For plain http no handshake ever happens, so
    an empty context — still verifying, so it would refuse any certificate — saves
    loading the CA bundle (~60 ms a command)."""
    if url.startswith("https://"):
        return True
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


class Api:
    """A small synchronous client of ``/api/v1``. The token is read at the first request,
    so usage errors are reported before anyone is asked for it."""

    def __init__(self, url: str, token_file: Path | None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise usage("--url must be an http:// or https:// URL")
        if parts.scheme == "http" and not _is_loopback(parts.hostname):
            click.echo(
                f"warning: the admin token goes in clear text to {parts.hostname}; use https",
                err=True,
            )
        self.url = url.rstrip("/")
        self.token_file = token_file
        self._http: httpx.Client | None = None

    def _client(self) -> httpx.Client:
        if self._http is None:
            token = read_admin_token(self.token_file)
            # No redirects: a redirect could carry the Authorization header elsewhere.
            self._http = httpx.Client(
                base_url=self.url,
                timeout=TIMEOUT,
                follow_redirects=False,
                verify=_tls_context(self.url),
                headers={
                    "Authorization": f"Bearer {token}",
                    "User-Agent": USER_AGENT,
                    "Accept": "application/json",
                },
            )
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Obj | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        try:
            response = self._client().request(
                method, f"/api/v1{path}", json=body, params=params, headers=headers
            )
        except httpx.HTTPError as exc:
            raise CliError(f"cannot reach Keyhouse at {self.url}: {type(exc).__name__}") from None
        if response.status_code >= 300:
            raise api_error(response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise CliError(f"{self.url} did not answer JSON; is it a Keyhouse server?") from None

    def get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Obj) -> Any:
        return self.request("POST", path, body=body)

    def patch(self, path: str, body: Obj, if_match: int | None = None) -> Any:
        headers = {"If-Match": str(if_match)} if if_match is not None else None
        return self.request("PATCH", path, body=body, headers=headers)

    def delete(self, path: str, params: Mapping[str, str] | None = None) -> None:
        self.request("DELETE", path, params=params)


def api_error(response: httpx.Response) -> ApiError:
    """The server's own code and message; for anything else just the status, since an
    unknown body (a proxy's HTML page) is noise at best."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        return ApiError(response.status_code, error["code"], str(error.get("message", "")), error)
    if 300 <= response.status_code < 400:
        return ApiError(
            response.status_code,
            f"http_{response.status_code}",
            "unexpected redirect (not followed); check --url",
            {},
        )
    return ApiError(
        response.status_code, f"http_{response.status_code}", response.reason_phrase or "error", {}
    )


def with_api(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--url`` and ``--token-file`` to a command and pass it an ``api``."""

    @click.option(
        "--url",
        envvar="KEYHOUSE_URL",
        default=DEFAULT_URL,
        show_default=True,
        help="Keyhouse server (env KEYHOUSE_URL).",
    )
    @click.option(
        "--token-file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="File holding the admin token (default: env KEYHOUSE_ADMIN_TOKEN, else a prompt).",
    )
    @functools.wraps(command)
    def wrapper(*args: Any, url: str, token_file: Path | None, **kwargs: Any) -> Any:
        api = Api(url, token_file)
        try:
            return command(*args, api=api, **kwargs)
        finally:
            api.close()

    return wrapper


def find(items: Sequence[Obj], name_or_id: str, kind: str) -> Obj:
    """The item whose id or name is ``name_or_id`` (an exact id wins)."""
    for item in items:
        if item.get("id") == name_or_id:
            return item
    named = [item for item in items if item.get("name") == name_or_id]
    if len(named) > 1:
        raise CliError(
            f"not_unique: several {kind}s are named {name_or_id!r}; use the id",
            details=[str(item.get("id")) for item in named],
        )
    if not named:
        raise CliError(f"not_found: no {kind} named {name_or_id!r}")
    return named[0]


def parse_pairs(values: Sequence[str], option: str) -> list[tuple[str, str]]:
    """``FIELD=VALUE`` → (FIELD, VALUE). The raw text is not echoed on error: someone may
    have typed a secret where a field name belongs."""
    pairs = []
    for raw in values:
        field, sep, value = raw.partition("=")
        if not sep or not field.strip():
            raise usage(f"{option} expects FIELD=VALUE")
        pairs.append((field.strip(), value))
    return pairs


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def when(value: Any) -> str:
    """An API timestamp as local ``YYYY-MM-DD HH:MM``."""
    if not isinstance(value, str):
        return "-"
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(headers), *(line(row) for row in rows)])


def fields_block(pairs: Sequence[tuple[str, str]]) -> str:
    """``label: value`` lines with the values aligned, for ``get``."""
    width = max((len(label) for label, _ in pairs), default=0) + 1
    return "\n".join(f"{(label + ':').ljust(width)} {value}".rstrip() for label, value in pairs)
