"""The rules of ``[automation]``: what ``drp event-handler`` may do on production's outage.

Imported only when the section is present. Like every other section, each message names
the key, the value found and what was expected; the decisions themselves are
:mod:`drptools.decide`'s.
"""

from __future__ import annotations

from drptools.config.model import ACTIVATION_POLICIES, Automation
from drptools.config.schema import names, spec
from drptools.config.validate import Problems

WHERE = "automation"


def watched_object(text: str) -> str | None:
    """Why ``text`` is not ``host!service`` or ``host`` as Icinga and Nagios name them."""
    parts = text.split("!")
    if len(parts) > 2 or any(not part or part != part.strip() for part in parts):
        return (
            f'{text!r} is not a monitored object (expected "host!service" or "host", '
            "as Icinga names them: no blank at either end of a name)"
        )
    return None


def parse_automation(problems: Problems, table: dict[str, object], has_drp: bool) -> Automation:
    """``[automation]`` of decoded TOML, every problem recorded in ``problems``; ``has_drp``:
    whether a ``[drp]`` section says where a pre-staging or an activation would go."""
    problems.unknown(table, names(WHERE), WHERE)
    watch = problems.field(table, WHERE, spec(WHERE, "watch"), watched_object)
    prestage = problems.field(table, WHERE, spec(WHERE, "prestage"))
    activate = problems.field(table, WHERE, spec(WHERE, "activate"))
    if activate not in ACTIVATION_POLICIES:
        problems.append(
            f"{WHERE}.activate: {activate!r} is not one of {', '.join(ACTIVATION_POLICIES)} "
            "(never: notices only; authorized: on a drp authorize order; always: the policy "
            "allows automatic activation)"
        )
        activate = "never"
    hours = problems.field(table, WHERE, spec(WHERE, "quiet_period_hours"))
    log = problems.field(table, WHERE, spec(WHERE, "log"))
    if not has_drp and (prestage or activate != "never"):
        key = "prestage" if prestage else "activate"
        problems.append(
            f"{WHERE}.{key}: needs a [drp] section (where a pre-staging or an activation goes); "
            'add one, or set prestage = false and activate = "never" for notices only'
        )
    return Automation(watch, prestage, activate, hours * 3600.0, log)
