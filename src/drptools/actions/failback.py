"""``drp failback``: return the environments from the DRP server to production.

The runbook of :mod:`drptools.procedures.failback`'s steps for the environments the last
successful activation moved, with the DNS back to production's addresses at the end. The
same rules as ``drp activate``: ``--dry-run`` prints the plan and runs every probe (the
split-brain guard and the DNS prerequisites included) and changes nothing; off a terminal
``--yes`` is needed; ``--resume RUN_ID`` goes on with a run that stopped; ``--force``
copies back even when production also took writes since the activation. The files go
back while the databases move (runbook lanes, as in an activation). The start and the
end are notified. Once production is out of maintenance, each site's page
(``[sites]``) is fetched from production's address as the last proof.
"""

from __future__ import annotations

import os

from drptools import runbook
from drptools.actions import common
from drptools.errors import BadUse, Failure
from drptools.procedures import failback, site
from drptools.procedures.restore import SwitchDns

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from drptools.config import Config


def build(config: Config, parameters: dict[str, object], force: bool) -> runbook.Runbook:
    """The failback of what the activation ``parameters`` name."""
    from drptools.status import state_dir

    environments = parameters["environments"]
    assert isinstance(environments, dict)
    staging = os.path.join(state_dir(), "staging", "failback")
    chosen = [config.environments[name] for name in environments]
    steps: list[runbook.Step] = [
        failback.GuardSplitBrain(config, environment, environments[environment.name], force)
        for environment in chosen
    ]
    steps.append(failback.Maintenance(config, on=True))
    for environment in chosen:
        steps.append(failback.CopyBack(config, environment))
        steps += [
            failback.MoveDatabase(config, database, staging) for database in environment.databases
        ]
        steps.append(failback.VerifyCopyBack(config, environment))
    if config.dns is not None and config.drp is not None and config.production is not None:
        steps += [
            SwitchDns(config, environment.name, config.drp, config.production)
            for environment in chosen
            if environment.name in config.dns.records
        ]
    steps.append(failback.Maintenance(config, on=False))
    # Last, not before the DNS: in maintenance, production answers with its maintenance page.
    steps += [
        site.VerifySite(config.sites[environment.name], config.production)
        for environment in chosen
        if environment.name in config.sites and config.production is not None
    ]
    return runbook.Runbook("failback", {**parameters, "force": force}, steps)


def main(config: Config, args: argparse.Namespace) -> int:
    """``drp failback [--dry-run] [--resume RUN_ID] [--yes] [--force]``."""
    if config.drp is None or config.production is None:
        raise BadUse(f"{config.source} needs [drp] and [production] for a failback")
    if args.resume:
        parameters = runbook.resumed_parameters(args.resume, "failback")
        force = bool(parameters.get("force")) or args.force
    else:
        active = common.activation_in_force()
        if active is None:
            raise Failure("no activation in force here (drp runs): nothing to bring back")
        activation, activated = active
        parameters = {"activation": activation, "environments": activated["environments"]}
        force = args.force
    book = build(config, parameters, force)
    lines = common.planned(book, args.dry_run)
    if isinstance(lines, int):
        return lines
    if not common.go_ahead(lines, args.yes, "Return to production as planned above?"):
        return 1
    herald = common.herald(config)
    report = runbook.execute(book, resume=args.resume, herald=herald)
    print(f"back in production: run {report.run_id}")
    return 0
