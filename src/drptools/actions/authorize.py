"""``drp authorize``: record, show or revoke the customer's order to activate the DRP.

What an order is and where it is kept: :mod:`drptools.authorization`. Recording and
revoking are notified (``[notification]``), so the people on call hear who gave the order.
"""

from __future__ import annotations

from drptools import authorization, layout, notify
from drptools.errors import BadUse

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from drptools.config import Config


def main(config: Config, args: argparse.Namespace) -> int:
    """``drp authorize [--by NAME --reference TICKET [--valid DURATION] | --revoke]``."""
    if args.revoke and (args.by or args.reference or args.valid):
        raise BadUse("--revoke takes no --by, --reference or --valid")
    if (args.by is None) != (args.reference is None):
        raise BadUse("--by and --reference go together: who gave the order, and its ticket")
    if args.revoke:
        order = authorization.revoke()
        if order is None:
            print("no authorisation to revoke")
            return 0
        print(f"revoked the authorisation {order.describe()}")
        notify.notice(config.notification, "DRP authorisation revoked",
                      [f"The authorisation {order.describe()} was revoked."])  # fmt: skip
        return 0
    if args.by is None and args.reference is None:
        order = authorization.current()
        if order is None:
            print("no authorisation recorded")
            return 1
        valid = order.valid_at(layout.now())
        print(f"{'valid' if valid else 'EXPIRED'}: authorised {order.describe()}")
        return 0 if valid else 1
    hours = args.valid / 3600 if args.valid else config.authorization_hours
    order = authorization.required(hours, args.by, args.reference, "drp authorize")
    print(f"recorded: DRP activation authorised {order.describe()}")
    notify.notice(
        config.notification, f"DRP activation authorised by {order.by} ({order.reference})",
        [f"DRP activation was authorised {order.describe()}.",
         "drp activate may now run; drp authorize --revoke withdraws the order."],
    )  # fmt: skip
    return 0
