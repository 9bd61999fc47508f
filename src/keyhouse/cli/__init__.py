"""The ``keyhouse`` command: serve · keys · endpoints · tokens · usage · kek · db."""

from __future__ import annotations

import click

from keyhouse.cli.kek import kek
from keyhouse.cli.server import db, serve


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="keyhouse")
def main() -> None:
    """Keyhouse: an AI gateway with an encrypted vault for provider credentials."""


main.add_command(serve)
main.add_command(db)
main.add_command(kek)

try:  # the API-client commands live in their own modules
    from keyhouse.cli.resources import endpoints, keys, tokens

    main.add_command(keys)
    main.add_command(endpoints)
    main.add_command(tokens)
    from keyhouse.cli.usage import usage_command

    main.add_command(usage_command)
except ImportError:  # pragma: no cover - during development only
    pass
