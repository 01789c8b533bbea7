"""What the actions share: the clock of a run, and choosing environments, databases, targets."""

from __future__ import annotations

from drptools import runbook
from drptools.errors import BadUse, Failure
from drptools.procedures.common import Clock

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from drptools.config import Config, Database, Environment

__all__ = ["Clock", "columns", "database", "environments", "targets"]


def environments(config: Config, names: Sequence[str]) -> list[Environment]:
    """The environments named (all when none are); BadUse names an unknown one."""
    if not names:
        return list(config.environments.values())
    unknown = [name for name in names if name not in config.environments]
    if unknown:
        raise BadUse(
            f"no environment {unknown[0]!r} in {config.source} "
            f"(configured: {', '.join(config.environments)})"
        )
    return [config.environments[name] for name in dict.fromkeys(names)]


def database(environment: Environment, key: str) -> Database:
    """The database ``key`` of ``environment``; BadUse if it has none of that name."""
    for candidate in environment.databases:
        if candidate.key == key:
            return candidate
    known = ", ".join(db.key for db in environment.databases) or "none"
    raise BadUse(f"environment {environment.name!r} has no database {key!r} (configured: {known})")


def targets(config: Config, chosen: str | None) -> list[str]:
    """Both targets, or the one chosen with ``--target``."""
    return [chosen] if chosen else list(config.targets)


def columns(lines: Sequence[Sequence[str]]) -> str:
    """Aligned columns for people (``drp status``, ``drp snapshots``); the last one free."""
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]) - 1)]
    return "\n".join(
        "  ".join([*map(str.ljust, line[:-1], widths), line[-1]]).rstrip() for line in lines
    )


def planned(book: runbook.Runbook, dry_run: bool, notes: Sequence[str] = ()) -> list[str] | int:
    """The plan of a DRP runbook (its lines, then ``notes``), with every read-only probe.

    With ``dry_run`` it is printed with its problems and the exit code returned; otherwise
    the lines are returned, or Failure raised when a probe found a problem.
    """
    lines, problems = runbook.plan(book)
    lines += notes
    if dry_run:
        print("\n".join(lines))
        for problem in problems:
            print(f"PROBLEM: {problem}")
        return 1 if problems else 0
    if problems:
        raise Failure(
            f"the plan has {len(problems)} problem(s), first: {problems[0]} "
            f"(drp {book.name} --dry-run lists them)"
        )
    return lines


def go_ahead(lines: list[str], yes: bool, question: str) -> bool:
    """Whether to run: ``--yes``, or on a terminal the plan shown and ``yes`` typed in
    full; BadUse off a terminal without ``--yes``."""
    import sys

    if yes:
        return True
    if not sys.stdin.isatty():
        raise BadUse("not on a terminal: check the plan with --dry-run, then give --yes")
    print("\n".join(lines))
    try:
        answer = input(f"{question} Type yes to go on: ")
    except EOFError:
        return False
    if answer.strip().lower() == "yes":
        return True
    print("nothing was changed")
    return False


def herald(config: Config) -> runbook.Herald:
    """Announces a runbook to every notifier of ``[notification]``."""
    from drptools import notify

    return runbook.Herald(
        lambda subject, lines: notify.notice(config.notification, subject, lines),
        steps=config.notification.runbook_steps,
    )


def activation_in_force() -> tuple[str, dict[str, object]] | None:
    """The id and parameters of the activation the DRP serves from: the newest that
    succeeded with no successful failback after it (None: production serves)."""
    from drptools import journal

    active = None
    for run_id, records in journal.readable_runs():
        if not journal.succeeded(records):
            continue
        kind, parameters = records[0].get("runbook"), records[0].get("parameters")
        if kind == "activate" and isinstance(parameters, dict):
            active = (run_id, parameters)
        elif kind == "failback":
            active = None
    return active
