"""Units: parsing byte sizes and durations, formatting numbers for people and for perfdata.

Every check reports bytes in ``B`` and durations in ``s`` in its perfdata (the guidelines'
base units, so graphs never mix scales), and shows people ``1.5 GiB`` or ``3 d 4 h``.
Thresholds may be written with a unit (``512MiB:``, ``15m:``); :func:`scaled` turns such a
number into the base unit. Sizes are powers of 1024 whatever the spelling (``K``, ``KB``,
``KiB``), as ``df``, ``free`` and check_disk count them.
"""

from __future__ import annotations

import math


class Scale(dict[str, float]):
    """Multipliers by upper-cased unit suffix, with a name and a hint for error messages."""

    def __init__(self, name: str, hint: str, factors: dict[str, float]) -> None:
        super().__init__(factors)
        self.name = name
        self.hint = hint


#: Byte sizes: powers of 1024, spelled K, KB or KiB alike.
BYTES = Scale(
    "size",
    "B, K, M, G, T, P, E: powers of 1024",
    {"": 1, "B": 1}
    | {
        letter + tail: 1024.0**power
        for power, letter in enumerate("KMGTPE", start=1)
        for tail in ("", "B", "IB")
    },
)

#: Durations; a bare number is seconds.
SECONDS = Scale(
    "duration",
    "s, ms, m (minutes), h, d, w",
    {"": 1, "S": 1, "MS": 0.001, "US": 0.000001, "M": 60, "MIN": 60, "H": 3600, "D": 86400,
     "W": 604800},
)  # fmt: skip

#: Units of measure the Monitoring Plugins Development Guidelines allow in perfdata.
PERFDATA_UOMS = frozenset({"", "s", "ms", "us", "%", "B", "KB", "MB", "GB", "TB", "c"})


def scaled(number: str, suffix: str, scale: Scale) -> float:
    """Return ``number`` times the multiplier of ``suffix`` in ``scale``.

    The error names the unit and the ones known, so that the admin reads
    ``unknown size unit 'X' (use B, K, M, G, T, P, E: powers of 1024)``.
    """
    try:
        factor = scale[suffix.upper()]
    except KeyError:
        raise ValueError(f"unknown {scale.name} unit {suffix!r} (use {scale.hint})") from None
    return float(number) * factor


def count_of(text: object, least: float = 0.0) -> float | None:
    """``text`` read as a finite number not below ``least`` (a count, a size, seconds), or
    None: each parser words the refusal after the source it reads."""
    try:
        value = float(text)  # type: ignore[arg-type]  # whatever a row held: None if no number
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value >= least else None


def perf_number(value: float) -> str:
    """Format a perfdata value: no exponent, at most six decimals, integers bare.

    The guidelines' grammar is ``[-0-9.]``; ``repr`` of a float (``1e-07``,
    ``0.30000000000000004``) breaks graphers, so every number goes through here.
    """
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        raise ValueError(f"perfdata value {value!r} is not a finite number")
    if value == int(value) and abs(value) < 2**53:
        return str(int(value))
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def human_number(value: float, digits: int = 2) -> str:
    """A number for the status line: at most ``digits`` decimals, trailing zeros dropped."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    text = f"{value:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def human_bytes(value: float) -> str:
    """A byte count for people, in IEC units: ``512 B``, ``1.5 GiB``."""
    magnitude = abs(value)
    for power, prefix in ((5, "Pi"), (4, "Ti"), (3, "Gi"), (2, "Mi"), (1, "Ki")):
        if magnitude >= 1024**power:
            return f"{human_number(value / 1024**power, 1)} {prefix}B"
    return f"{human_number(value, 0)} B"


def human_duration(seconds: float) -> str:
    """A duration for people, its two largest units: ``42 s``, ``5 min 3 s``, ``12 d 3 h``."""
    if seconds < 60:
        return f"{human_number(seconds, 1 if seconds < 10 else 0)} s"
    remaining = int(seconds)
    parts: list[tuple[int, str]] = []
    for size, name in ((86400, "d"), (3600, "h"), (60, "min"), (1, "s")):
        count, remaining = divmod(remaining, size)
        if count or parts:
            parts.append((count, name))
    shown = [f"{count} {name}" for count, name in parts[:2] if count]
    return " ".join(shown)
