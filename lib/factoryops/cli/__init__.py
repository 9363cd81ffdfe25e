"""`siteadmin`: the team's command line (chats, grants, deliveries, sweep, privacy, spam).

Runs against the emulator when FIRESTORE_EMULATOR_HOST is set, otherwise against the
project in GOOGLE_CLOUD_PROJECT with application default credentials. Every command
takes `--json` for scripting.
"""

from __future__ import annotations

import importlib
import sys

import click

from factoryops import logs

# Subcommand groups by name -> module under factoryops.cli exposing `group`.
# Imported only when a command runs, so `siteadmin --help` stays quick.
GROUPS: dict[str, str] = {
    "chats": "chats",
    "grants": "grants",
    "sweep": "sweep",
    "deliveries": "deliveries",
    "privacy": "privacy",
    "status": "status",
    "spam": "spam",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *GROUPS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in GROUPS:
            module = importlib.import_module(f"factoryops.cli.{GROUPS[name]}")
            command: click.Command = module.group
            return command
        return super().get_command(ctx, name)


@click.group(cls=_LazyGroup)
@click.version_option(package_name="factoryops-site-backend")
def main() -> None:
    """FactoryOps AI site admin: chats, access links, deliveries, retention, privacy and
    the system's status."""
    if sys.stderr.isatty():
        logs.to_terminal()
