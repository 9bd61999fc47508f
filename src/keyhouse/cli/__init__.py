"""The ``keyhouse`` command: serve · keys · endpoints · tokens · kek · db.

Each command's module is imported only when that command runs, so ``keyhouse serve``
never loads the API-client commands (httpx, prompts) and starts sooner.
"""

from __future__ import annotations

import importlib

import click

# command name -> "module:attribute"
COMMANDS = {
    "serve": "keyhouse.cli.server:serve",
    "db": "keyhouse.cli.server:db",
    "kek": "keyhouse.cli.kek:kek",
    "keys": "keyhouse.cli.resources:keys",
    "endpoints": "keyhouse.cli.resources:endpoints",
    "tokens": "keyhouse.cli.resources:tokens",
}


class LazyGroup(click.Group):
    """click's documented lazy-loading group: commands resolved by name on demand."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module, _, attribute = target.partition(":")
        command: click.Command = getattr(importlib.import_module(module), attribute)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="keyhouse")
def main() -> None:
    """Keyhouse: an AI gateway with an encrypted vault for provider credentials."""
