"""The customer's order: who authorised a DRP activation, under which reference, until when.

The site's policy activates the DRP only on the customer's order. ``drp authorize``
records that order (``authorization.json`` in drp's state directory, replaced atomically,
and one line in ``authorizations.jsonl``, the history nobody edits), ``drp activate``
refuses without a valid one, and both are notified. An order given on activate's own
command line (``--authorized-by NAME --reference TICKET``) is recorded the same way, so
the history always says on whose word the DNS moved.
"""

from __future__ import annotations

import getpass
import os

from drptools import layout
from drptools.errors import BadUse, Failure

#: The status record holding the authorisation in force.
RECORD = "authorization"
#: The history of every order and revocation, one JSON line each.
HISTORY = "authorizations.jsonl"


class Authorization:
    """An order: by whom, its reference (ticket), when it was recorded and until when."""

    __slots__ = ("at", "by", "recorded_by", "reference", "until")

    def __init__(self, by: str, reference: str, at: float, until: float, recorded_by: str) -> None:
        self.by, self.reference, self.at, self.until = by, reference, at, until
        #: The login that ran drp authorize (the customer's word reaches drp through them).
        self.recorded_by = recorded_by

    def valid_at(self, now: float) -> bool:
        """Whether the order is still in force at ``now``."""
        return self.at <= now < self.until

    def describe(self) -> str:
        """``by Jane Doe (ticket CHG-1234), recorded by root at …, valid until …``."""
        return (
            f"by {self.by} (reference {self.reference}), recorded by {self.recorded_by} at "
            f"{_shown(self.at)}, valid until {_shown(self.until)}"
        )

    def fields(self) -> dict[str, object]:
        """The record's fields, as stored."""
        return {"by": self.by, "reference": self.reference, "at": self.at,
                "until": self.until, "recorded_by": self.recorded_by}  # fmt: skip


def _shown(seconds: float) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(seconds))


def _one_line(value: str, what: str) -> str:
    text = value.strip()
    if not text or any(ord(character) < 32 or character == "\x7f" for character in text):
        raise BadUse(f"{what} {value!r}: expected a non-empty line of printable text")
    return text


def _login() -> str:
    try:
        return os.environ.get("SUDO_USER") or getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def _append_history(record: dict[str, object]) -> None:
    """Append ``record`` to the history, durably."""
    from drptools.status import append, state_dir

    path = os.path.join(state_dir(), HISTORY)
    try:
        append(path, record)
    except OSError as error:
        raise Failure(f"cannot record the authorisation in {path}: {error.strerror}") from None


def record(by: str, reference: str, hours: float, via: str) -> Authorization:
    """Record the order of ``by`` (``reference``) valid ``hours`` from now; ``via``: which
    command recorded it."""
    from drptools import status

    now = layout.now()
    order = Authorization(
        _one_line(by, "--by"), _one_line(reference, "--reference"), now, now + hours * 3600,
        _login(),
    )  # fmt: skip
    _append_history({"event": "authorize", "via": via, **order.fields()})
    status.write(RECORD, order.fields())
    return order


def current() -> Authorization | None:
    """The recorded order (valid or not); None when there is none."""
    from drptools import status

    found = status.read(RECORD)
    if not found:
        return None
    try:
        return Authorization(
            str(found["by"]), str(found["reference"]), float(found["at"]),  # type: ignore[arg-type]
            float(found["until"]), str(found["recorded_by"]),  # type: ignore[arg-type]
        )  # fmt: skip
    except (KeyError, TypeError, ValueError):
        raise Failure(
            f"the authorisation record {RECORD}.json is damaged; record the order again "
            "(drp authorize --by NAME --reference TICKET)"
        ) from None


def revoke() -> Authorization | None:
    """Withdraw the order in force (returned; None when there was none)."""
    from drptools.status import state_dir

    order = current()
    if order is None:
        return None
    _append_history({"event": "revoke", "by": _login(), "at": layout.now(),
                     "revoked": order.fields()})  # fmt: skip
    try:
        os.unlink(os.path.join(state_dir(), f"{RECORD}.json"))
    except FileNotFoundError:
        pass
    except OSError as error:
        raise Failure(f"cannot revoke the authorisation: {error.strerror}") from None
    return order


def required(hours: float, by: str | None, reference: str | None, via: str) -> Authorization:
    """The order an activation runs on: the one given with it (then recorded), else the one
    in force; Failure when there is none, naming how to record it."""
    if by is not None or reference is not None:
        if by is None or reference is None:
            raise BadUse("--authorized-by and --reference go together")
        return record(by, reference, hours, via)
    order = current()
    if order is None:
        raise Failure(
            "no authorisation: the DRP is activated only on the customer's order; record it "
            "with drp authorize --by NAME --reference TICKET (or give --authorized-by NAME "
            "--reference TICKET)"
        )
    if not order.valid_at(layout.now()):
        raise Failure(f"the authorisation {order.describe()} has expired; record it again")
    return order
