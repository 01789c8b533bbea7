"""The text a check prints: status line, long output and perfdata, per the plugin guidelines.

``NAME STATE - summary | 'label'=value[UOM];warn;crit;min;max …`` then one line per item.
Text that comes from the outside (a banner, a process name, an error message) may hold
``|``, which would cut the line into perfdata; :func:`screen` replaces it with ``¦`` so the
operator still reads it, and folds newlines so one item stays on one line.
"""

from __future__ import annotations

from collections.abc import Sequence

from checks.core.units import PERFDATA_UOMS, perf_number

STATE_NAMES = ("OK", "WARNING", "CRITICAL", "UNKNOWN")


def screen(text: str) -> str:
    """Make outside text safe for plugin output: no ``|``, no line breaks."""
    return " ".join(text.replace("|", "¦").split())


def perf_label(label: str) -> str:
    """Quote a perfdata label when it holds spaces; ``=`` and ``'`` cannot appear in one."""
    clean = screen(label).replace("=", "_").replace("'", "_")
    if clean and all(char.isalnum() or char in "_-./:" for char in clean):
        return clean
    return f"'{clean}'"


def perfdata(
    label: str,
    value: float,
    uom: str = "",
    warn: object = None,
    crit: object = None,
    minimum: float | None = None,
    maximum: float | None = None,
) -> str:
    """One perfdata item; trailing empty fields are dropped as the guidelines allow."""
    if uom not in PERFDATA_UOMS:
        raise ValueError(f"perfdata unit {uom!r} is not one of the guidelines' units")
    fields = [
        f"{perf_label(label)}={perf_number(value)}{uom}",
        "" if warn is None else str(warn),
        "" if crit is None else str(crit),
        "" if minimum is None else perf_number(minimum),
        "" if maximum is None else perf_number(maximum),
    ]
    while fields[-1] == "":
        fields.pop()
    return ";".join(fields)


def render(
    name: str, state: int, summary: str, perf: Sequence[str] = (), long_lines: Sequence[str] = ()
) -> str:
    """The whole output: status line with perfdata, then long output, newline-terminated."""
    line = f"{name.upper()} {STATE_NAMES[state]}"
    summary = screen(summary)
    if summary:
        line += f" - {summary}"
    if perf:
        line += " | " + " ".join(perf)
    return "\n".join([line, *(screen(text) for text in long_lines if text.strip())]) + "\n"
