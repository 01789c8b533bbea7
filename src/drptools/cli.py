"""The ``drp`` command: backups and disaster recovery for the site.

Its actions (``backup files``, ``backup db``, ``snapshots``, ``verify``, ``status``,
``activate``, ``failback``, ``event-handler``) arrive with the backup and DRP work; until
then the command only explains itself, and refuses anything else with exit 2 so that no
timer or event handler believes a backup ran.
"""

from __future__ import annotations

import argparse

from checks import __version__


def build_parser() -> argparse.ArgumentParser:
    """``drp`` with its description; no action is available yet."""
    parser = argparse.ArgumentParser(
        prog="drp",
        description="Backups and disaster recovery (DRP) of the site: not yet available "
        "in this version; see README.md, section 'Backups and DRP'.",
    )
    parser.add_argument("-V", "--version", action="version", version=f"drp (vigie {__version__})")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Print the help; any action is refused (exit 2) until it exists."""
    parser = build_parser()
    parser.parse_args(argv)
    parser.print_help()
    return 0
