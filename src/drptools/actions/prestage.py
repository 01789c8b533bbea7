"""``drp prestage``: keep the DRP server warm from the newest complete backups.

The activation's copy, import and file-proof steps (:mod:`drptools.procedures.restore`)
without its verification on the targets, its DNS switch or its authorisation: it touches
only the DRP server, so a nightly timer runs it (``packaging/``) and an activation then
moves only the delta (it reports how much was already in place) and re-reads only the
files that changed since the pre-staging proved them (:mod:`drptools.verified`). Each
environment's outcome is a status record ``prestage.<environment>`` (when, from which
backup, bytes moved and already in place). It refuses while the DRP is active (an
activation finished and no failback since): it would overwrite what the DRP serves.
"""

from __future__ import annotations

from drptools import journal, layout, runbook, status
from drptools.actions import common
from drptools.errors import BadUse, Failure
from drptools.procedures import restore

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from drptools.config import Config


def build(config: Config, parameters: dict[str, object]) -> runbook.Runbook:
    """Copy and import each environment of ``parameters`` onto the DRP server."""
    import os

    environments = parameters["environments"]
    assert isinstance(environments, dict)
    staging = os.path.join(status.state_dir(), "staging", "prestage")
    steps: list[runbook.Step] = []
    for name, chosen_parameters in environments.items():
        chosen = restore.Chosen(config.environments[name], chosen_parameters)
        steps.append(restore.CopyFiles(config, chosen))
        steps += [
            restore.ImportDatabase(config, chosen, database, staging)
            for database in chosen.environment.databases
        ]
        steps.append(restore.VerifyFiles(config, chosen))
    return runbook.Runbook("prestage", parameters, steps)


def main(config: Config, args: argparse.Namespace) -> int:
    """``drp prestage [ENV…] [--from A|B] [--dry-run]``."""
    if config.drp is None:
        raise BadUse(f"{config.source} has no [drp] section: nothing to pre-stage")
    active = common.activation_in_force()
    if active is not None:
        raise Failure(
            f"the DRP is active (activation {active[0]}): pre-staging would overwrite "
            "what it serves; drp failback first"
        )
    chosen = {
        environment.name: restore.choose_backups(config, environment, args.source)
        for environment in common.environments(config, args.environments)
    }
    book = build(config, {"environments": chosen})
    planned = common.planned(book, args.dry_run)
    if isinstance(planned, int):
        return planned
    report = runbook.execute(book, herald=common.herald(config))
    for record in journal.read(report.run_id):
        step = str(record.get("step", ""))
        details = record.get("details")
        if record.get("event") != "end" or not step.startswith("copy-files:"):
            continue
        assert isinstance(details, dict)
        name = step.split(":", 1)[1]
        status.write(
            f"prestage.{name}",
            {
                "what": "prestage",
                "environment": name,
                "time": layout.now(),
                "run": report.run_id,
                **chosen[name],
                "bytes": record.get("bytes"),
                "moved": details.get("moved"),
                "in_place": details.get("in_place"),
            },
        )
    return 0
