"""drptools.decide: every row of the event handler's decision table, with Icinga 2's and
Nagios' macros, and arbitrary arguments (never an exception)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drptools import decide
from drptools.decide import Decision, Event, Situation, read_event

NOW = 1_800_000_000.0
WATCHED = ("web-1!shop-url", "web-1")
ORDER = "by Jane Doe (reference C-1), recorded by root at …, valid until …"


def situation(**changes: object) -> Situation:
    fields: dict[str, object] = {
        "watch": WATCHED, "activate": "authorized", "prestage": False,
        "quiet_period": 24 * 3600.0, "now": NOW,
    }  # fmt: skip
    fields |= changes
    return Situation(**fields)  # type: ignore[arg-type]


def event(state: str = "CRITICAL", state_type: str = "HARD", attempt: str | None = "1",
          host: str = "web-1", service: str | None = "shop-url") -> Event:  # fmt: skip
    read = read_event(state, state_type, attempt, host, service)
    assert isinstance(read, Event), read
    return read


# What each monitoring core passes for the same service going through its checks
# (max_check_attempts = 3): Icinga 2 resets the attempt to 1 on the change to HARD,
# Nagios reports the maximum.
ICINGA_2 = [("CRITICAL", "SOFT", "1"), ("CRITICAL", "SOFT", "2"), ("CRITICAL", "HARD", "1")]
NAGIOS = [("CRITICAL", "SOFT", "1"), ("CRITICAL", "SOFT", "2"), ("CRITICAL", "HARD", "3")]


@pytest.mark.parametrize("macros", [ICINGA_2, NAGIOS], ids=["icinga2", "nagios"])
def test_the_soft_attempts_do_nothing_and_the_hard_one_decides(macros):
    decisions = [decide.decide(event(*values), situation()) for values in macros]
    assert [d.verdict for d in decisions] == ["soft", "soft", "needs-authorization"]
    assert [(d.start, d.notify) for d in decisions[:2]] == [(None, False)] * 2
    assert decisions[2].notify
    assert "drp authorize --by NAME --reference TICKET" in decisions[2].reason


def test_icinga_numeric_states_and_state_types_read_as_their_names():
    numeric = event("2", "1", "1")
    assert (numeric.state, numeric.state_type) == ("CRITICAL", "HARD")
    assert event("0", "0", service=None).state == "UP"
    assert event("1", "1", service=None).state == "DOWN"
    assert event("critical", " hard ").state_type == "HARD"


@pytest.mark.parametrize(
    ("state", "service", "verdict"),
    [("OK", "shop-url", "recovery"), ("UP", None, "recovery"),
     ("WARNING", "shop-url", "not-an-outage"), ("UNKNOWN", "shop-url", "not-an-outage"),
     ("UNREACHABLE", None, "not-an-outage")],
)  # fmt: skip
def test_recoveries_and_other_hard_states_are_logged_only(state, service, verdict):
    decision = decide.decide(event(state, service=service), situation(authorized=ORDER))
    assert (decision.verdict, decision.start, decision.notify) == (verdict, None, False)


def test_an_unwatched_object_is_not_production():
    decision = decide.decide(event(service="mail"), situation(activate="always"))
    assert (decision.verdict, decision.start, decision.notify) == ("unwatched", None, False)
    assert "web-1!mail is not in [automation] watch" in decision.reason


def test_a_host_down_counts_as_an_outage():
    decision = decide.decide(event("DOWN", service=None), situation(authorized=ORDER))
    assert (decision.verdict, decision.start) == ("activating", "activate")


def test_watched_without_an_order_notifies_only():
    decision = decide.decide(event(), situation())
    assert (decision.verdict, decision.start, decision.notify) == (
        "needs-authorization", None, True)  # fmt: skip


def test_watched_without_an_order_prestages_when_asked():
    decision = decide.decide(event(), situation(prestage=True))
    assert (decision.verdict, decision.start) == ("needs-authorization", "prestage")
    assert "pre-staging the DRP server" in decision.reason


def test_with_an_order_on_record_it_activates():
    decision = decide.decide(event(), situation(authorized=ORDER, prestage=True))
    assert (decision.verdict, decision.start, decision.notify) == ("activating", "activate", True)
    assert ORDER in decision.reason


def test_the_always_policy_activates_without_an_order():
    decision = decide.decide(event(), situation(activate="always"))
    assert (decision.verdict, decision.start) == ("activating", "activate")
    assert '[automation] activate = "always"' in decision.reason


def test_the_never_policy_never_activates_even_with_an_order():
    decision = decide.decide(event(), situation(activate="never", authorized=ORDER))
    assert (decision.verdict, decision.start, decision.notify) == ("manual-only", None, True)
    with_prestage = decide.decide(event(), situation(activate="never", prestage=True))
    assert with_prestage.start == "prestage"


def test_a_run_going_starts_nothing_new():
    going = "a drp runbook run holds /var/lib/vigie/drp/locks/runbook.lock (pid 42)"
    for changes in ({"authorized": ORDER}, {"activate": "always"}, {"prestage": True}):
        decision = decide.decide(event(), situation(running=going, **changes))
        assert (decision.verdict, decision.start, decision.notify) == ("run-going", None, True)
        assert going in decision.reason


def test_the_drp_already_serving_starts_nothing():
    decision = decide.decide(event(), situation(drp_active="activation activate-1",
                                                authorized=ORDER, prestage=True))  # fmt: skip
    assert (decision.verdict, decision.start, decision.notify) == ("drp-active", None, True)


def test_within_the_quiet_period_no_second_automatic_activation():
    recent = situation(activate="always", last_activation=NOW - 3600)
    decision = decide.decide(event(), recent)
    assert (decision.verdict, decision.start, decision.notify) == ("quiet-period", None, True)
    assert "3600 s ago" in decision.reason
    later = situation(activate="always", last_activation=NOW - 25 * 3600)
    assert decide.decide(event(), later).start == "activate"


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [(("$service.state$", "HARD", "1", "web-1", "shop-url"), "--state '$service.state$'"),
     (("CRITICAL", "FIRM", "1", "web-1", "shop-url"), "--state-type 'FIRM'"),
     (("CRITICAL", "HARD", "three", "web-1", "shop-url"), "--attempt 'three'"),
     (("CRITICAL", "HARD", "1", "", "shop-url"), "--host ''"),
     (("DOWN", "HARD", "1", "web-1", "shop-url"), "is not a service state"),
     (("CRITICAL", "HARD", "1", "web-1", None), "is not a host state"),
     (("4", "HARD", "1", "web-1", "shop-url"), "--state '4'")],
)  # fmt: skip
def test_an_unreadable_event_is_logged_and_starts_nothing(arguments, problem):
    read = read_event(*arguments)
    assert isinstance(read, str)
    assert problem in read
    decision = decide.decide(read, situation(activate="always"))
    assert (decision.verdict, decision.start, decision.notify) == ("unreadable", None, False)


def test_an_empty_service_is_a_host_event():
    assert event("DOWN", service="").name == "web-1"


@settings(deadline=None)  # a pure function, timed only by a shared machine's load
@given(
    state=st.text(max_size=12), state_type=st.text(max_size=6),
    attempt=st.none() | st.text(max_size=4), host=st.text(max_size=10),
    service=st.none() | st.text(max_size=10), activate=st.sampled_from(["never", "authorized",
    "always"]), prestage=st.booleans(), authorized=st.none() | st.just(ORDER),
    running=st.none() | st.text(min_size=1, max_size=5),
    last=st.none() | st.floats(allow_nan=False, allow_infinity=False),
)  # fmt: skip
def test_any_arguments_get_a_decision(state, state_type, attempt, host, service, activate,
                                      prestage, authorized, running, last):  # fmt: skip
    read = read_event(state, state_type, attempt, host, service)
    watch = (read.name,) if isinstance(read, Event) else WATCHED
    around = situation(watch=watch, activate=activate, prestage=prestage, authorized=authorized,
                       running=running, last_activation=last)  # fmt: skip
    decision = decide.decide(read, around)
    assert isinstance(decision, Decision)
    assert decision.reason
    if decision.start is not None:
        assert isinstance(read, Event)
        assert read.state_type == "HARD"
        assert read.state in ("CRITICAL", "DOWN")
        assert running is None
    if decision.start == "activate":
        assert activate == "always" or (activate == "authorized" and authorized)
