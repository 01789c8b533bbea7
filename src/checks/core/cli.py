"""Command-line parsing with the plugin guidelines' standard options and exit codes.

argparse exits 2 on a bad argument and 0 after ``--help``; the monitoring engine would read
2 as CRITICAL. :class:`Parser` raises instead: :class:`UsageError` becomes UNKNOWN with one
line naming the bad value, ``--help`` and ``--version`` print and exit 3 as the C plugins do.
Argument types validate thresholds when they are parsed, not when first compared.
"""

from __future__ import annotations

import argparse
import os
import re  # loaded by argparse already: free
from collections.abc import Callable, Sequence

from checks import __version__
from checks.core.ranges import Range, RangeError, parse_range
from checks.core.units import Scale

DEFAULT_TIMEOUT = 10.0
MAX_TIMEOUT = 86400.0
MAX_VERBOSITY = 3
STATE_CODES = {"ok": 0, "warning": 1, "critical": 2, "unknown": 3}


class UsageError(Exception):
    """A wrong command line; the message names the option and the bad value."""


class EarlyExit(Exception):  # noqa: N818 - not an error: help or version was asked for
    """``--help`` or ``--version`` was asked for; ``text`` is what to print."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class _Help(argparse.Action):
    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        raise EarlyExit(parser.format_help())


class _Version(argparse.Action):
    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        raise EarlyExit(f"{parser.prog} v{__version__} (vigie {__version__})\n")


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """argparse's formatter, sized without ``shutil``.

    argparse builds a formatter for every option it adds and sizes it with
    ``shutil.get_terminal_size``, whose import (with bz2 and lzma) would cost every check
    run almost 2 ms; the width only matters for ``--help``.
    """

    def __init__(self, prog: str) -> None:
        try:
            width = int(os.environ.get("COLUMNS") or os.get_terminal_size(1).columns)
        except (ValueError, OSError):
            width = 80
        super().__init__(prog, width=max(width - 2, 40), max_help_position=30)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser with -h -V -v -t that raises instead of exiting."""

    def __init__(
        self,
        prog: str,
        description: str,
        examples: Sequence[str] = (),
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        epilog = "examples:\n" + "\n".join(f"  {line}" for line in examples) if examples else None
        super().__init__(
            prog=prog,
            description=description,
            epilog=epilog,
            add_help=False,
            formatter_class=_HelpFormatter,
        )
        # argparse takes "-1:2" for an option, so "-w -1:2" would lack its value: let
        # anything that starts like a negative number be a value (ranges, offsets).
        self._negative_number_matcher = re.compile(r"^-(\d+\.?\d*|\.\d+)(:.*)?$")
        standard = self.add_argument_group("standard options")
        standard.add_argument("-h", "--help", action=_Help, nargs=0, help="show this help and exit")
        standard.add_argument(
            "-V", "--version", action=_Version, nargs=0, help="show the version and exit"
        )
        standard.add_argument(
            "-v",
            "--verbose",
            action="count",
            default=0,
            help="more output: -v every item, -vv what was read, -vvv raw data and tracebacks",
        )
        standard.add_argument(
            "-t",
            "--timeout",
            type=seconds,
            default=timeout,
            metavar="SECONDS",
            help="give up with UNKNOWN after this many seconds (default: %(default)g)",
        )

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: None = None
    ) -> argparse.Namespace:
        """Parse ``args``; ``-v`` counts beyond three are the same as three.

        Options named like numbers (``-4``, ``-6``) make argparse take every negative
        number for an option; they are still recognised by their exact name without that.
        """
        del self._has_negative_number_optionals[:]
        parsed = super().parse_args(args, namespace)
        parsed.verbose = min(parsed.verbose, MAX_VERBOSITY)
        return parsed

    def error(self, message: str) -> None:  # type: ignore[override]
        """Raise :class:`UsageError` where argparse would print usage and exit 2."""
        raise UsageError(message)

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        """Raise where argparse would exit, so no path leaves with its exit codes."""
        if status:
            raise UsageError((message or "bad arguments").strip())
        raise EarlyExit(message or "")


def seconds(text: str) -> float:
    """A positive number of seconds up to a day, as ``-t`` takes.

    The bound keeps the alarm and the watchdog's sleep within what the platform's timers
    hold (beyond about 9.2e9 s they raise OverflowError in every check); no engine waits
    a day for a check.
    """
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    if value > MAX_TIMEOUT:
        raise argparse.ArgumentTypeError(f"{text!r} is more than {MAX_TIMEOUT:g} seconds (a day)")
    return value


def state(text: str) -> int:
    """A service state by name (ok, warning, critical, unknown) or code (0-3)."""
    key = text.strip().lower()
    if key in STATE_CODES:
        return STATE_CODES[key]
    if key in ("0", "1", "2", "3"):
        return int(key)
    raise argparse.ArgumentTypeError(f"{text!r} is not a state (ok, warning, critical, unknown)")


def threshold(scale: Scale | None = None) -> Callable[[str], Range]:
    """An argparse type for one range; ``scale`` lets its numbers carry units."""

    def parse(text: str) -> Range:
        try:
            return parse_range(text, scale)
        except RangeError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


def add_thresholds(
    container: argparse._ActionsContainer,
    what: str,
    *,
    metric: str = "",
    short: bool | None = None,
    scale: Scale | None = None,
    defaults: tuple[str | None, str | None] = (None, None),
    note: str = "",
) -> None:
    """Add a warning and a critical range option for ``what`` (``%%`` for a percent sign).

    Without ``metric``: ``-w/--warning`` and ``-c/--critical``; with it,
    ``--warning-<metric>`` and ``--critical-<metric>`` (and ``-w``/``-c`` too when
    ``short``). ``defaults`` are range texts (argparse runs string defaults through the
    type), ``scale`` lets numbers carry units, ``note`` ends the help (``C-compatible``).
    """
    with_letters = not metric if short is None else short
    for letter, level, default in (("-w", "warning", defaults[0]), ("-c", "critical", defaults[1])):
        names = [f"--{level}-{metric}" if metric else f"--{level}"]
        details = "; ".join(text for text in (default and f"default: {default}", note) if text)
        container.add_argument(
            *([letter] if with_letters else []),
            *names,
            type=threshold(scale),
            default=default,
            metavar="RANGE",
            help=f"{level} range for {what}" + (f" ({details})" if details else ""),
        )


def thresholds(count: int, scale: Scale | None = None) -> Callable[[str], list[Range]]:
    """An argparse type for ``count`` comma-separated ranges; one range stands for all."""

    def parse(text: str) -> list[Range]:
        parts = text.split(",")
        if len(parts) not in (1, count):
            raise argparse.ArgumentTypeError(
                f"{text!r} has {len(parts)} values; give 1 or {count}, separated by commas"
            )
        try:
            ranges = [parse_range(part, scale) for part in parts]
        except RangeError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
        return ranges * count if len(ranges) == 1 else ranges

    return parse


def regex(ignore_case: bool = False) -> Callable[[str], re.Pattern[str]]:
    """An argparse type for a regular expression, compiled (and so checked) when parsed."""

    def parse(text: str) -> re.Pattern[str]:
        try:
            return re.compile(text, re.IGNORECASE if ignore_case else 0)
        except re.error as error:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a regular expression: {error}"
            ) from None

    return parse
