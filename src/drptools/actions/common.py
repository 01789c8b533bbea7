"""What the actions share: the clock of a run, and choosing environments, databases, targets."""

from __future__ import annotations

from drptools.errors import BadUse
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
