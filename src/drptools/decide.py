"""What ``drp event-handler`` does with one state change that Icinga 2 or Nagios reports.

A pure function of the event and of what the handler found around it (the
``[automation]`` policy, the order on record, a run going, the last automatic
activation, the clock), so that every row of the table is tested without a monitoring
core, a DRP server or a clock. The rules, in order:

- an event that cannot be read (a macro left unexpanded, a typo in the command) is
  logged, nothing else: a broken wiring must never start anything;
- only HARD states count. Icinga 2 resets the attempt to 1 on the change to HARD while
  Nagios reports the maximum, so the attempt is recorded and never decided on; SOFT
  states are retries the monitoring core has not confirmed yet;
- objects not in ``[automation] watch`` are not production: logged;
- a recovery (OK, UP) and a HARD WARNING, UNKNOWN or UNREACHABLE are logged: they do
  not say production is gone;
- a HARD CRITICAL (DOWN for a host) of a watched object is always notified, and then:
  nothing when the DRP already serves or a run is going; an activation when the policy
  allows it (``always``, or ``authorized`` with a valid order on record) unless an
  automatic activation happened within the quiet period (flapping, as orchestrator
  blocks a second recovery); otherwise a notice that an order is needed, and a
  pre-staging when ``[automation] prestage`` asks for one.
"""

from __future__ import annotations

#: Service states by name and by Icinga's and Nagios' numbers (``$service.state_id$``).
SERVICE_STATES = ("OK", "WARNING", "CRITICAL", "UNKNOWN")
#: Host states (``$host.state_id$``; UNREACHABLE is Nagios' and Icinga 1's).
HOST_STATES = ("UP", "DOWN", "UNREACHABLE")
#: State types by number: Icinga 2's StateTypeSoft = 0, StateTypeHard = 1.
STATE_TYPES = ("SOFT", "HARD")
#: The states that say production is gone.
OUTAGE_STATES = ("CRITICAL", "DOWN")
#: The states that say it is back.
RECOVERY_STATES = ("OK", "UP")

# What the handler starts.
ACTIVATE, PRESTAGE = "activate", "prestage"

# Verdicts: the decision's name in the log.
UNREADABLE = "unreadable"
SOFT = "soft"
UNWATCHED = "unwatched"
RECOVERY = "recovery"
NOT_AN_OUTAGE = "not-an-outage"
DRP_ACTIVE = "drp-active"
RUN_GOING = "run-going"
QUIET_PERIOD = "quiet-period"
MANUAL_ONLY = "manual-only"
NEEDS_AUTHORIZATION = "needs-authorization"
ACTIVATING = "activating"


class Event:
    """One state change as the monitoring core reported it, read into known words."""

    __slots__ = ("attempt", "host", "service", "state", "state_type")

    def __init__(
        self, state: str, state_type: str, attempt: int | None, host: str, service: str | None
    ) -> None:
        self.state, self.state_type, self.attempt = state, state_type, attempt
        self.host, self.service = host, service

    @property
    def name(self) -> str:
        """``host!service`` or ``host``, as ``[automation] watch`` lists it."""
        return f"{self.host}!{self.service}" if self.service else self.host

    def fields(self) -> dict[str, object]:
        """The event, for the decision log."""
        return {"object": self.name, "state": self.state, "state_type": self.state_type,
                "attempt": self.attempt}  # fmt: skip


def _printable(text: str) -> bool:
    return bool(text) and text == text.strip() and text.isprintable()


def read_event(
    state: str, state_type: str, attempt: str | None, host: str, service: str | None
) -> Event | str:
    """The event of the handler's arguments, or why it cannot be read.

    States and state types are taken by name in any case (Icinga 2 and Nagios both pass
    ``CRITICAL``, ``HARD``) or by number (``$service.state_id$``: a service's when a
    service is named, else a host's). An empty ``service`` is a host event: Icinga 2
    leaves an unresolved ``$service.name$`` out, Nagios expands it to nothing.
    """
    if service == "":
        service = None
    for label, value in (("host", host), ("service", service)):
        if value is not None and not _printable(value):
            return f"--{label} {value!r} is not a monitored object's name"
    states = SERVICE_STATES if service else HOST_STATES
    word = state.strip().upper()
    if word.isdigit() and int(word) < len(states):
        word = states[int(word)]
    if word not in states:
        what, top = "service" if service else "host", len(states) - 1
        return f"--state {state!r} is not a {what} state ({', '.join(states)} or 0-{top})"
    kind = state_type.strip().upper()
    if kind.isdigit() and int(kind) < len(STATE_TYPES):
        kind = STATE_TYPES[int(kind)]
    if kind not in STATE_TYPES:
        return f"--state-type {state_type!r} is not HARD or SOFT (nor 1 or 0)"
    number = None
    if attempt is not None and attempt.strip():
        if not attempt.strip().isdigit():
            return f"--attempt {attempt!r} is not a number of check attempts"
        number = int(attempt.strip())
    return Event(word, kind, number, host, service)


class Situation:
    """What the handler found when the event came: the policy and the state of the DRP."""

    __slots__ = (
        "activate", "authorized", "drp_active", "last_activation", "now", "prestage",
        "quiet_period", "running", "watch",
    )  # fmt: skip

    def __init__(
        self,
        *,
        watch: tuple[str, ...],
        activate: str,
        prestage: bool,
        quiet_period: float,
        now: float,
        authorized: str | None = None,
        running: str | None = None,
        drp_active: str | None = None,
        last_activation: float | None = None,
    ) -> None:
        #: ``[automation]``: the objects that are production, the activation policy
        #: (never, authorized, always), pre-staging, the quiet period in seconds.
        self.watch, self.activate, self.prestage = watch, activate, prestage
        self.quiet_period = quiet_period
        self.now = now
        #: The valid order on record, described (None: there is none).
        self.authorized = authorized
        #: The run going (a runbook holding its lock, a child of the handler), described.
        self.running = running
        #: The activation the DRP serves from, described (None: production serves).
        self.drp_active = drp_active
        #: When the handler last started an activation (None: never).
        self.last_activation = last_activation


class Decision:
    """The verdict, what to start (None, ACTIVATE, PRESTAGE), whether to notify, and why."""

    __slots__ = ("notify", "reason", "start", "verdict")

    def __init__(self, verdict: str, reason: str, start: str | None = None,
                 notify: bool = False) -> None:  # fmt: skip
        self.verdict, self.reason, self.start, self.notify = verdict, reason, start, notify

    def fields(self) -> dict[str, object]:
        """The decision, for the decision log."""
        return {"decision": self.verdict, "start": self.start, "notify": self.notify,
                "reason": self.reason}  # fmt: skip


def decide(event: Event | str, situation: Situation) -> Decision:
    """The decision on ``event`` (or on the problem that kept it from being read)."""
    if isinstance(event, str):
        return Decision(UNREADABLE, f"{event}: nothing done (check the event command)")
    if event.state_type != "HARD":
        return Decision(
            SOFT, f"SOFT {event.state} (attempt {event.attempt}): not confirmed yet, nothing done"
        )
    if event.name not in situation.watch:
        return Decision(UNWATCHED, f"{event.name} is not in [automation] watch: not production")
    if event.state in RECOVERY_STATES:
        return Decision(RECOVERY, f"HARD {event.state}: {event.name} is back; nothing done")
    if event.state not in OUTAGE_STATES:
        return Decision(
            NOT_AN_OUTAGE, f"HARD {event.state} is not an outage (CRITICAL, DOWN): nothing done"
        )
    return _outage(event, situation)


def _outage(event: Event, situation: Situation) -> Decision:
    """A HARD CRITICAL or DOWN of production: always notified."""
    outage = f"{event.name} is HARD {event.state}"
    if situation.drp_active:
        return Decision(DRP_ACTIVE, f"{outage}; the DRP already serves "
                        f"({situation.drp_active}): nothing started", notify=True)  # fmt: skip
    if situation.running:
        return Decision(RUN_GOING, f"{outage}; {situation.running}: nothing new started",
                        notify=True)  # fmt: skip
    prestage = PRESTAGE if situation.prestage else None
    staging = "; pre-staging the DRP server" if prestage else ""
    if situation.activate == "never":
        return Decision(
            MANUAL_ONLY,
            f'{outage}; [automation] activate = "never": activate by hand (drp activate) '
            f"on the customer's order{staging}",
            prestage,
            notify=True,
        )
    allowed = situation.activate == "always" or situation.authorized is not None
    if not allowed:
        return Decision(
            NEEDS_AUTHORIZATION,
            f"{outage}; an activation needs the customer's order: drp authorize --by NAME "
            f"--reference TICKET, then drp activate{staging}",
            prestage,
            notify=True,
        )
    last = situation.last_activation
    if last is not None and situation.now - last < situation.quiet_period:
        return Decision(
            QUIET_PERIOD,
            f"{outage}; an automatic activation started {situation.now - last:.0f} s ago, "
            f"within the quiet period of {situation.quiet_period:.0f} s (flapping?): "
            "nothing started; activate by hand if it is needed",
            notify=True,
        )
    why = (
        f"the order on record ({situation.authorized})"
        if situation.authorized is not None
        else '[automation] activate = "always"'
    )
    return Decision(ACTIVATING, f"{outage}; activating the DRP on {why}", ACTIVATE, notify=True)
