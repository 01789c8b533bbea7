"""Threshold ranges of the Monitoring Plugins Development Guidelines, parsed strictly.

=========  ==================================================
``10``     alert when the value is below 0 or above 10
``10:``    alert when below 10
``~:10``   alert when above 10
``10:20``  alert when below 10 or above 20
``@10:20`` alert when between 10 and 20, both included
=========  ==================================================

nagiosplugin's own Range accepts ``1:2:3`` or ``abc`` only to fail later with a bare
ValueError, and a missing threshold becomes ``0:`` so that negative values alert. Here a
range is validated when the argument is parsed, the error names the bad text, and "no
threshold" is ``None`` (never alerts). Numbers may carry a unit (``512M:``, ``15m:``) when
the check passes a scale from :mod:`checks.core.units`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from checks.core.units import Scale, human_number, perf_number, scaled

SYNTAX_HELP = "a range such as 10, 10:, ~:10, 10:20 or @10:20"


class RangeError(ValueError):
    """A threshold that is not a range; the message names the text and what was expected."""


class NotANumber(ValueError):  # noqa: N818 - reads as what it is
    """Text where a decimal number was expected."""


class Range:
    """A closed interval ``start..end`` that alerts outside it (or inside, with ``@``)."""

    __slots__ = ("end", "inside", "start", "text")

    def __init__(self, start: float, end: float, *, inside: bool = False, text: str = "") -> None:
        if start > end:
            raise RangeError(f"{text or 'range'!r}: start {start:g} is greater than end {end:g}")
        self.start = start
        self.end = end
        self.inside = inside
        self.text = text

    def alerts(self, value: float) -> bool:
        """True when ``value`` raises this threshold's state."""
        within = self.start <= value <= self.end
        return within if self.inside else not within

    def violation(self, value: float, show: Callable[[float], str] = human_number) -> str:
        """Why ``value`` alerts, in the words an operator reads: ``> 10``, ``< 5%``."""
        if self.inside:
            if self.end == math.inf:
                return f">= {show(self.start)}"
            if self.start == -math.inf:
                return f"<= {show(self.end)}"
            return f"inside {show(self.start)}..{show(self.end)}"
        if value > self.end:
            return f"> {show(self.end)}"
        return f"< {show(self.start)}"

    def __str__(self) -> str:
        """The range in the guidelines' syntax, in base units, as perfdata wants it."""
        start = (
            "" if self.start == 0 else "~" if self.start == -math.inf else perf_number(self.start)
        )
        end = "" if self.end == math.inf else perf_number(self.end)
        prefix = "@" if self.inside else ""
        if start:
            return f"{prefix}{start}:{end}"
        if not end:
            return f"{prefix}0:"
        return f"{prefix}{end}"

    def __repr__(self) -> str:
        return f"Range({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Range):
            return NotImplemented
        return (self.start, self.end, self.inside) == (other.start, other.end, other.inside)

    def __hash__(self) -> int:
        return hash((self.start, self.end, self.inside))


def parse_range(text: str, scale: Scale | None = None) -> Range:
    """Parse ``text`` as a guidelines range; numbers may carry a unit of ``scale``.

    Raises :class:`RangeError` naming ``text`` when it is not a range. (Parsed by hand:
    compiling a regular expression would cost every check run more than the parse.)
    """
    spec = text.strip()
    inside = spec.startswith("@")
    body = spec[1:] if inside else spec
    start_text, _, end_text = body.rpartition(":") if ":" in body else ("", "", body)
    if ":" in start_text or not (start_text or end_text):
        raise RangeError(f"{text!r} is not {SYNTAX_HELP}")
    try:
        if start_text == "~":
            start = -math.inf
        else:
            start = parse_number(start_text, scale) if start_text else 0.0
        end = parse_number(end_text, scale) if end_text else math.inf
    except NotANumber:
        raise RangeError(f"{text!r} is not {SYNTAX_HELP}") from None
    except ValueError as error:  # a unit problem: say which
        raise RangeError(f"{text!r}: {error}") from None
    return Range(start, end, inside=inside, text=spec)


def parse_number(atom: str, scale: Scale | None = None) -> float:
    """A decimal number (no exponent, no ``inf``), with a unit of ``scale`` if one is given."""
    cut = len(atom)
    while cut and (atom[cut - 1].isalpha() or atom[cut - 1] == "%"):
        cut -= 1
    number, suffix = atom[:cut], atom[cut:]
    digits = number[1:] if number[:1] in "+-" else number
    if not (digits.isascii() and digits.replace(".", "", 1).isdigit()):
        raise NotANumber(f"{atom!r} is not a number")
    if scale is None:
        if suffix:
            raise ValueError(f"{atom!r} is not a plain number (this threshold takes no unit)")
        return float(number)
    return scaled(number, suffix, scale)
