"""``vigie list``, ``vigie run``: this machine's local checks in one process, as a table.

For the on-call engineer who logs in at 3 a.m. and wants the whole picture in a second:
every local check runs in-process (one interpreter start, not one per check) with the
arguments listed by ``vigie list``, and the exit code is the most severe state found
(CRITICAL above UNKNOWN above WARNING above OK), so scripts can use it too.
``vigie icinga-commands`` and ``vigie nagios-commands`` print the command definitions of
the installed checks for Icinga 2 and Nagios.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from checks import __version__
from checks.core.output import STATE_NAMES
from checks.core.runtime import Outcome, Plugin
from checks.registry import local_suite

SEVERITY = (0, 1, 3, 2)  # OK < WARNING < UNKNOWN < CRITICAL
COLOURS = ("\033[32m", "\033[33m", "\033[31m", "\033[35m")


def most_severe(states: list[int]) -> int:
    """The state that matters most to a person: CRITICAL, then UNKNOWN, then WARNING."""
    return max(states, key=SEVERITY.index, default=0)


def run_checks(names: list[str]) -> list[tuple[str, list[str], Outcome]]:
    """Run the named checks of the local suite in this process, in suite order.

    Each result is the suite's name for the check, its command line and its outcome.
    """
    results = []
    for plugin, name, arguments in local_checks():
        if name in names:
            outcome = plugin.run(list(arguments))
            results.append((name, [plugin.executable, *arguments], outcome))
    return results


def local_checks() -> list[tuple[Plugin, str, tuple[str, ...]]]:
    """The local suite, from the checks' own declarations (``Plugin.local``)."""
    return local_suite()


def table(results: Sequence[tuple[str, list[str], Outcome]], colour: bool) -> str:
    """CHECK STATE SUMMARY, one row per check, states coloured on a terminal."""
    width = max([len("CHECK"), *(len(name) for name, _, _ in results)])
    lines = [f"{'CHECK':<{width}}  {'STATE':<8}  SUMMARY"]
    for name, _, outcome in results:
        state = f"{STATE_NAMES[outcome.state]:<8}"
        if colour:
            state = f"{COLOURS[outcome.state]}{state}\033[0m"
        lines.append(f"{name:<{width}}  {state}  {outcome.summary}")
    return "\n".join(lines) + "\n"


def as_json(results: Sequence[tuple[str, list[str], Outcome]]) -> str:
    """The results as a JSON list: check, command, state, state name, summary, output."""
    return json.dumps(
        [
            {
                "check": name,
                "command": command,
                "state": outcome.state,
                "state_name": STATE_NAMES[outcome.state],
                "summary": outcome.summary,
                "output": outcome.text,
            }
            for name, command, outcome in results
        ],
        indent=2,
    )


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        """Bad use exits 3 (UNKNOWN), as the checks do, never 2 (CRITICAL)."""
        self.print_usage(sys.stderr)
        sys.stderr.write(f"vigie: {message}\n")
        sys.exit(3)


def build_parser() -> argparse.ArgumentParser:
    """``vigie list`` and ``vigie run [--only …] [--json]``."""
    parser = _Parser(prog="vigie", description=__doc__.split("\n\n")[0])
    parser.add_argument("-V", "--version", action="version", version=f"vigie {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    commands.add_parser("list", help="list the local checks and the arguments they run with")
    run = commands.add_parser("run", help="run the local checks and print a table")
    run.add_argument(
        "--only",
        action="append",
        metavar="CHECK[,CHECK…]",
        help="run only these checks (repeatable or comma-separated)",
    )
    run.add_argument("--json", action="store_true", help="print JSON instead of a table")
    commands.add_parser(
        "icinga-commands", help="print the Icinga 2 CheckCommands of every installed check"
    )
    commands.add_parser("nagios-commands", help="print the Nagios commands of every check")
    return parser


def main(argv: list[str] | None = None) -> int:
    """The ``vigie`` command."""
    args = build_parser().parse_args(argv)
    suite = local_checks()
    known = [name for _, name, _ in suite]
    if args.command in ("icinga-commands", "nagios-commands"):
        from checks import icinga

        sys.stdout.write(icinga.commands() if args.command == "icinga-commands" else
                         icinga.nagios_commands())  # fmt: skip
        return 0
    if args.command == "list":
        width = max(len(name) for name in known)
        for plugin, name, arguments in suite:
            check = sys.modules[plugin.check.__module__]
            summary = (check.__doc__ or "").split("\n")[0].split(": ", 1)[-1]
            print(f"{name:<{width}}  {plugin.executable} {' '.join(arguments)}".rstrip())
            print(f"{'':<{width}}  {summary}")
        return 0
    names = known
    if args.only:
        names = [name.strip() for group in args.only for name in group.split(",") if name.strip()]
        unknown = sorted(set(names) - set(known))
        if unknown:
            print(f"vigie: no local check named {', '.join(unknown)} (known: {', '.join(known)})",
                  file=sys.stderr)  # fmt: skip
            return 3
    results = run_checks(names)
    if args.json:
        print(as_json(results))
    else:
        colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
        sys.stdout.write(table(results, colour))
    return most_severe([outcome.state for _, _, outcome in results])
