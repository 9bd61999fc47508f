"""The ``keyhouse`` command: serve · keys · endpoints · tokens · usage · kek · db.

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
    "usage": "keyhouse.cli.usage:usage_command",
}
# What ``keyhouse --help`` lists, so that listing imports no command (it took over a
# second, loading the store and the settings); tests/api/test_cli.py holds each line
# to the command's own short help.
SUMMARIES = {
    "db": "Database migrations.",
    "endpoints": "Endpoints: the names applications call, routed to provider models.",
    "kek": "Key-encryption keys: status, online rotation, retirement.",
    "keys": "Provider API keys (secrets are read from files, stdin or a prompt, never argv).",
    "serve": "Serve the admin API, the gateway API and the web UI.",
    "tokens": "Access tokens for applications calling the gateway.",
    "usage": "Gateway calls grouped by endpoint, key, token, model, provider, day or hour.",
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

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, SUMMARIES[name]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="keyhouse")
def main() -> None:
    """Keyhouse: an AI gateway with an encrypted vault for provider credentials."""
