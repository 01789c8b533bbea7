"""``drp config check``: is the configuration usable, and are the files it names?

Prints a summary when all is well (exit 0); otherwise one line per problem, each naming
the key, the value and what was expected, and exits 2. Besides the file's own validity
(:func:`drptools.config.parse`) it checks what only this machine can tell
(:func:`drptools.config.check_files`): secret files not accessible by group or others,
ssh config files readable, paths and local target directories present.
"""

from __future__ import annotations

import os
import sys

from drptools.config import check_files

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from drptools.config import Config


def summary(config: Config) -> list[str]:
    """What the configuration describes, for the person who just wrote it."""
    lines = [f"{config.source}: valid"]
    for target in config.targets.values():
        how = "ssh" if target.location.is_remote else "local"
        days = "even" if target.name == "A" else "odd"
        lines.append(
            f"  target {target.name} ({days} days): {target.location} ({how}), "
            f"datacenter {target.datacenter}"
        )
    lines.append(
        f"  retention: {config.keep_files} file snapshots per environment and "
        f"{config.keep_dumps} dumps per database, on each target"
    )
    for environment in config.environments.values():
        databases = ", ".join(
            f"{db.key} ({db.engine}, to {'+'.join(db.targets)})" for db in environment.databases
        )
        lines.append(
            f"  environment {environment.name}: {', '.join(environment.paths)}"
            + (f"; databases {databases}" if databases else "")
        )
        lines += [
            f"    {path} is a symlink to {os.path.realpath(path)}: its content is backed up "
            f"as {path}"
            for path in environment.paths
            if os.path.islink(path) and os.path.isdir(path)
        ]
    lines.append(f"  snapshots keep: {', '.join(config.preserve) or 'contents and modes only'}")
    if config.notification.mail_to:
        lines.append(f"  failures mailed to {', '.join(config.notification.mail_to)}")
    return lines


def main(config: Config, args: argparse.Namespace) -> int:
    """Exit 0 with a summary, or 2 with every problem."""
    problems = check_files(config)
    if problems:
        for problem in problems:
            sys.stderr.write(f"drp: {config.source}: {problem}\n")
        return 2
    print("\n".join(summary(config)))
    return 0
