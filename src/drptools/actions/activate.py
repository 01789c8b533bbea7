"""``drp activate``: bring the environments up on the DRP server, on the customer's order.

The runbook (:mod:`drptools.runbook`) of :mod:`drptools.procedures.restore`'s steps: per
environment, verify the backup on its target, copy the files and verify them on the DRP
server (the files' lane) while each database is imported and proven (the databases'
lane, at the same time: the RTO is the longer of the two); then fetch the site's page
from the DRP server under the site's name (``[sites]``), switch each environment's DNS
names to the DRP addresses and prove it on every authoritative server. ``--dry-run``
prints that plan with sizes and runs every read-only probe (the DNS switch included, by
a prerequisite-only update); it changes nothing and needs no authorisation. A run needs
one (``drp authorize``, or ``--authorized-by NAME --reference TICKET`` here, recorded the
same way) and, when stdin is not a terminal, ``--yes``; on a terminal it shows the plan
and asks.
The start, the end (and each step, with ``[notification] runbook_steps``) are notified;
a notice that fails is journaled and changes nothing.
"""

from __future__ import annotations

import os

from drptools import authorization, runbook
from drptools.actions import common
from drptools.errors import BadUse
from drptools.procedures import restore, site

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from drptools.config import Config


def build(config: Config, parameters: dict[str, object]) -> runbook.Runbook:
    """The activation of the environments and backups ``parameters`` names."""
    from drptools.status import state_dir

    chosen_by_name = parameters["environments"]
    assert isinstance(chosen_by_name, dict)
    staging = os.path.join(state_dir(), "staging", "activate")
    steps: list[runbook.Step] = []
    chosen_all = []
    for name, chosen_parameters in chosen_by_name.items():
        chosen = restore.Chosen(config.environments[name], chosen_parameters)
        chosen_all.append(chosen)
        steps += [restore.VerifyBackup(config, chosen), restore.CopyFiles(config, chosen)]
        steps += [
            restore.ImportDatabase(config, chosen, database, staging)
            for database in chosen.environment.databases
        ]
        steps.append(restore.VerifyFiles(config, chosen))
        if name in config.sites and config.drp is not None:
            steps.append(site.VerifySite(config.sites[name], config.drp))
    if config.dns is not None and config.production is not None and config.drp is not None:
        steps += [
            restore.SwitchDns(config, chosen.environment.name, config.production, config.drp)
            for chosen in chosen_all
            if chosen.environment.name in config.dns.records
        ]
    return runbook.Runbook("activate", parameters, steps)


def main(config: Config, args: argparse.Namespace) -> int:
    """``drp activate [ENV…] [--from A|B] [--dry-run] [--resume RUN] [--yes] …``."""
    if config.drp is None:
        raise BadUse(f"{config.source} has no [drp] section: nothing to activate")
    if args.resume:
        parameters = runbook.resumed_parameters(args.resume, "activate")
    else:
        chosen = {
            environment.name: restore.choose_backups(config, environment, args.source)
            for environment in common.environments(config, args.environments)
        }
        parameters = {"environments": chosen}
    book = build(config, parameters)
    notes = [] if config.dns else ["(no [dns] section: switch the DNS by hand once the DRP serves)"]
    if args.dry_run:
        order = authorization.current()
        notes.append(
            f"authorisation: {order.describe() if order else 'none recorded (drp authorize)'}"
        )
    lines = common.planned(book, args.dry_run, notes)
    if isinstance(lines, int):
        return lines
    order = authorization.required(
        config.authorization_hours, args.authorized_by, args.reference, "drp activate"
    )
    if not common.go_ahead(lines, args.yes, "Activate the DRP as planned above?"):
        return 1
    herald = common.herald(config)
    print(f"authorised {order.describe()}")
    report = runbook.execute(book, resume=args.resume, herald=herald)
    summary = _summary(report)
    print(summary)
    return 0


def _summary(report: runbook.Report) -> str:
    """RTO, RPO, and how much of the files a pre-staging had already put in place."""
    from checks.core.units import human_bytes, human_duration
    from drptools import journal

    rto = human_duration(report.rto) if report.rto is not None else "unknown"
    rpo = human_duration(report.rpo) if report.rpo is not None else "unknown"
    moved = in_place = 0
    for record in journal.read(report.run_id):
        details = record.get("details")
        if record.get("kind") == "copy-files" and isinstance(details, dict):
            moved += int(details.get("moved") or 0)
            in_place += int(details.get("in_place") or 0)
    return (
        f"DRP active: run {report.run_id}, RTO {rto}, RPO {rpo} (data age at the switch); "
        f"files: {human_bytes(moved)} copied, {human_bytes(in_place)} already in place"
    )
