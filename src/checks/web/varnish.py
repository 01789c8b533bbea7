"""check_varnish: a Varnish cache's hit ratio, backend failures, child restarts, dropped sessions.

Reads ``varnishstat -j`` (``-n NAME`` for a named instance) and judges what changed
between two readings: the one its previous run stored and this one, or, when there is no
usable stored reading, two readings ``--sample`` seconds apart. Over that interval:

- hit ratio: ``cache_hit / (cache_hit + cache_miss)`` in percent; ``-w/-c`` (also
  ``--hitratio-warning``/``--hitratio-critical``) are ranges on it, so ``-w 50: -c 20:``
  alerts below 50% and 20%. No threshold by default; no lookups in the interval, no ratio.
- backend failures (``MAIN.backend_fail``, connections to a backend that failed) and
  backends found unhealthy (``MAIN.backend_unhealthy``): WARNING above 0 by default
  (``--warning-backend-fail``, ``--warning-backend-unhealthy`` and their ``--critical-``).
- child restarts: ``MGT.child_died`` + ``MGT.child_panic`` increasing means the cache
  process crashed and restarted empty: CRITICAL above 0 (``--critical-restarts``).
- sessions dropped (``MAIN.sess_drop`` of Varnish 4, ``sess_dropped``, ``req_dropped``):
  WARNING above 0 (``--warning-dropped``).

Varnish's own clock is the manager's uptime (``MGT.uptime``): a stored reading is usable
when the same manager process wrote it (its uptime grew) at most 30 minutes earlier; when
the child restarted within the interval, its counters are counted from its start. Both
JSON layouts are read, told apart by content: Varnish up to 6.4 prints the counters at
the top level, 6.5 and later (7.x) under ``"counters"`` with ``"version": 1``.

varnishstat needs read access to the instance's shared memory (``/var/lib/varnish``):
run the check as a member of the varnish group, or give ``--sudo`` with this sudoers line
(visudo -f /etc/sudoers.d/vigie-varnish)::

    nagios ALL=(root) NOPASSWD: /usr/bin/varnishstat

There is no C monitoring-plugins twin; the contrib check_varnish (varnish-nagios) judges
one raw counter at a time with ``-p FIELD -w -c``: vigie judges the rates that matter.
Varnish not running (varnishstat cannot find it) is CRITICAL; its shared memory there but
unreadable by the user is UNKNOWN, saying so (varnishstat words both alike).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import nagiosplugin

from checks.core import external, statefile
from checks.core.cli import Parser, add_thresholds, threshold
from checks.core.errors import CannotCheck, ParseError, ServiceDown
from checks.core.evaluate import Summary, Threshold, show
from checks.core.runtime import Bench, Plugin, doing
from checks.core.units import human_number

#: Counters the check reads; any other is ignored.
HITS, MISSES = "MAIN.cache_hit", "MAIN.cache_miss"
FAILED, UNHEALTHY = "MAIN.backend_fail", "MAIN.backend_unhealthy"
DROPPED = ("MAIN.sess_drop", "MAIN.sess_dropped", "MAIN.req_dropped")
RESTARTS = ("MGT.child_died", "MGT.child_panic")
MANAGER_UPTIME, CHILD_UPTIME = "MGT.uptime", "MAIN.uptime"
REQUIRED = (MANAGER_UPTIME, CHILD_UPTIME, HITS, MISSES, FAILED, UNHEALTHY)
WANTED = (*REQUIRED, *DROPPED, *RESTARTS)

#: Judged numbers: perfdata label, words, default warning, default critical.
EVENTS: dict[str, tuple[str, str | None, str | None]] = {
    "backend_fail": ("backend failures", "0", None),
    "backend_unhealthy": ("backends found unhealthy", "0", None),
    "restarts": ("child restarts", None, "0"),
    "dropped": ("sessions dropped", "0", None),
}
#: Seconds the manager's uptime counter may lag behind the child's (it is set by a timer).
UPTIME_LAG = 3
VARNISH_STATE = "/var/lib/varnish"  # where instances named by -n NAME keep their files
#: What varnishstat says when no varnishd answers (after a "." per second it waited).
NOT_RUNNING = "could not get hold of varnishd"


def parse_varnishstat(text: str) -> dict[str, float]:
    """The counters :data:`WANTED` of one ``varnishstat -j`` output, either layout.

    Up to 6.4 the counters are members of the top object beside ``timestamp``; from 6.5
    they are members of ``counters`` (the top object has ``version`` 1). Each counter is
    an object whose ``value`` is a number.
    """
    try:
        document = json.loads(text)
    except ValueError as error:
        raise ParseError(f"varnishstat -j printed no JSON ({error})") from None
    if not isinstance(document, dict):
        raise ParseError("varnishstat -j printed JSON that is not an object of counters")
    counters = document.get("counters", document) if "version" in document else document
    if not isinstance(counters, dict):
        raise ParseError("varnishstat -j: 'counters' is not an object")
    values: dict[str, float] = {}
    for name in WANTED:
        counter = counters.get(name)
        if counter is None:
            continue
        value = counter.get("value") if isinstance(counter, dict) else None
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise ParseError(f"varnishstat -j: counter {name} has no numeric value")
        values[name] = value
    missing = [name for name in REQUIRED if name not in values]
    if missing:
        raise ParseError(f"varnishstat -j lacks the counters {', '.join(missing)}")
    return values


def stored_interval(
    previous: dict[str, object] | None, now: dict[str, float]
) -> statefile.Interval | None:
    """The interval from a stored reading to ``now``, or None if it is not usable.

    Usable when the same manager process wrote it (its uptime grew by 1 s to
    :data:`~checks.core.statefile.MAX_AGE`) and it holds the same counters.
    """
    before = previous.get("values") if previous else None
    if not isinstance(before, dict) or set(before) != set(now):
        return None
    if not all(isinstance(value, int | float) for value in before.values()):
        return None
    age = now[MANAGER_UPTIME] - before[MANAGER_UPTIME]
    if not 1 <= age <= statefile.MAX_AGE:
        return None
    return between(before, now, age, f"over the last {age:.0f} s")


def between(
    before: dict[str, float], now: dict[str, float], seconds: float, how: str
) -> statefile.Interval | None:
    """Two readings of one manager process ``seconds`` apart as an interval.

    None when the manager's own counters went back (another manager process). A child
    that restarted in between (its uptime grew less than the interval, or its counters
    went back) started them from zero: the interval counts them from there.
    """
    if any(before.get(name, 0) > now[name] for name in RESTARTS if name in now):
        return None
    child_restarted = now[CHILD_UPTIME] - before[CHILD_UPTIME] + UPTIME_LAG < seconds or any(
        before[name] > now[name] for name in now if name.startswith("MAIN.")
    )
    if child_restarted:
        before = {name: value if name.startswith("MGT.") else 0 for name, value in before.items()}
        how += " (the child restarted)"
    return statefile.Interval(before, now, seconds, how)


def measures(window: statefile.Interval) -> dict[str, float]:
    """The judged numbers of an interval: hit ratio (when there were lookups) and events."""
    delta = window.delta
    found = {
        "backend_fail": delta(FAILED),
        "backend_unhealthy": delta(UNHEALTHY),
        "restarts": sum(delta(name) for name in RESTARTS if name in window.after),
        "dropped": sum(delta(name) for name in DROPPED if name in window.after),
    }
    lookups = delta(HITS) + delta(MISSES)
    if lookups > 0:
        found["hitratio"] = 100.0 * delta(HITS) / lookups
    found["lookups"] = lookups
    return found


def unreadable_shared_memory(instance: str) -> str | None:
    """The instance's working directory when its shared memory is there but unreadable.

    varnishstat says "Could not get hold of varnishd, is it running?" both when Varnish
    is down and when the user may not read ``_.vsm_child`` (mode 0750, group varnish):
    the second is not an outage.
    """
    if "/" in instance:
        candidates = [instance]
    elif instance:
        candidates = [os.path.join(VARNISH_STATE, instance)]
    else:  # Varnish 7 defaults to varnishd, older releases to the host name
        candidates = [os.path.join(VARNISH_STATE, name) for name in ("varnishd", os.uname()[1])]
    for directory in candidates:
        child = os.path.join(directory, "_.vsm_child")
        if os.path.isdir(child) and not os.access(child, os.R_OK | os.X_OK):
            return directory
    return None


class Varnishstat:
    """Runs ``varnishstat -j`` for one instance: gathering only."""

    def __init__(self, program: str, sudo: bool, instance: str, wait: float) -> None:
        self.tool = external.Tool(program, sudo, "check_varnish")
        self.arguments = ["-j", "-t", f"{wait:g}"] + (["-n", instance] if instance else [])
        self.instance = instance

    def read(self) -> dict[str, float]:
        """The counters now; Varnish not running is CRITICAL."""
        done = self.tool.run(self.arguments, "reading varnishstat -j")
        if done.returncode != 0 or not done.stdout.strip():
            said = done.stderr.strip() or done.stdout.strip() or f"exit {done.returncode}"
            first = said.splitlines()[0].lstrip(".")
            where = f" (instance {self.instance})" if self.instance else ""
            unreadable = unreadable_shared_memory(self.instance)
            if unreadable:
                raise CannotCheck(
                    f"this user may not read Varnish's shared memory in {unreadable} (run the "
                    "check as a member of the varnish group, or give --sudo)"
                )
            if NOT_RUNNING in said.lower():
                raise ServiceDown(f"Varnish is not running{where}: varnishstat says: {first}")
            raise ParseError(f"varnishstat -j failed{where}: {first}")
        return parse_varnishstat(done.stdout)


class Varnish(nagiosplugin.Resource):
    """The hit ratio and event counts over the interval since the previous run, or a sample."""

    def __init__(self, varnishstat: Varnishstat, sample: float) -> None:
        self.varnishstat = varnishstat
        self.sample = sample
        self.how = ""
        self.lookups = 0.0

    def probe(self) -> list[nagiosplugin.Metric]:
        """One reading, and the stored one (or a second after ``sample`` seconds)."""
        key = "varnish-" + (self.varnishstat.instance.replace("/", "_") or "default")
        now = self.varnishstat.read()
        window = stored_interval(statefile.load(key), now)
        if window is None:
            with doing(f"sampling varnishstat for {self.sample:g} s"):
                time.sleep(self.sample)
            before, now = now, self.varnishstat.read()
            window = between(before, now, self.sample, f"over {self.sample:g} s")
            if window is None:
                raise ParseError("varnishd restarted while the check sampled its counters")
        statefile.save(key, {"values": now})
        self.how = window.how
        found = measures(window)
        self.lookups = found.pop("lookups")
        metrics = [nagiosplugin.Metric(name, found[name], None, 0, None, name) for name in EVENTS]
        if "hitratio" in found:
            metrics.insert(0, nagiosplugin.Metric("hitratio", found["hitratio"], "%", 0, 100))
        return metrics


def ratio(percent: float) -> str:
    """A hit ratio with two decimals: 99.98% is not 100%."""
    return f"{human_number(percent)}%"


def describe(metric: nagiosplugin.Metric) -> str:
    """``hit ratio 93.2%``, ``backend failures 3``."""
    if metric.name == "hitratio":
        return f"hit ratio {ratio(metric.value)}"
    return f"{EVENTS[metric.name][0]} {show(metric.value)}"


class VarnishSummary(Summary):
    """``hit ratio 93.2% of 1204 lookups, no backend failure … over the last 300 s``."""

    def ok(self, results: nagiosplugin.Results) -> str:
        """The ratio and its lookups, that nothing else happened, and the interval."""
        resource: Varnish = results[0].resource
        if "hitratio" in results:
            hits = ratio(results["hitratio"].metric.value)
            head = f"hit ratio {hits} of {resource.lookups:.0f} lookups"
        else:
            head = "no cache lookups"
        return f"{head}, no backend failure, restart or dropped session {resource.how}"

    def problem(self, results: nagiosplugin.Results) -> str:
        """The problems, then the interval they were measured over."""
        return f"{super().problem(results)} {results[0].resource.how}"


def build_parser() -> Parser:
    """check_varnish's options: the instance, a range per measure, the sampling time."""
    parser = Parser(
        "check_varnish",
        __doc__.split("\n\n")[0],
        examples=(
            "check_varnish                         default instance, default thresholds",
            "check_varnish -n shop -w 50: -c 20:   instance 'shop', hit ratio at least 50/20%",
            "check_varnish --critical-backend-fail 10   CRITICAL above 10 failures per interval",
            "check_varnish --sudo                  varnishstat through sudo -n",
        ),
    )
    parser.add_argument(
        "-n",
        "--name",
        default="",
        metavar="NAME",
        help="the varnishd instance (varnishstat -n: name or working directory; default: "
        "the default instance)",
    )
    for letter, level in (("-w", "warning"), ("-c", "critical")):
        parser.add_argument(
            letter,
            f"--{level}",
            f"--hitratio-{level}",
            dest=f"hitratio_{level}",
            type=threshold(),
            metavar="RANGE",
            help=f"{level} range for the hit ratio in %% (e.g. 50: alerts below 50%%)",
        )
    for name, (words, warning, critical) in EVENTS.items():
        add_thresholds(
            parser,
            f"{words} in the interval",
            metric=name.replace("_", "-"),
            defaults=(warning, critical),
        )
    statefile.add_sample_option(parser, " between two varnishstat readings")
    external.add_tool_options(
        parser, "varnishstat", "nagios ALL=(root) NOPASSWD: /usr/bin/varnishstat"
    )
    return parser


def make_check(args: argparse.Namespace) -> nagiosplugin.Check:
    """The Check for parsed ``args``."""
    wait = max(1.0, round(args.timeout / 2))
    contexts = [Threshold("hitratio", args.hitratio_warning, args.hitratio_critical, describe)]
    contexts += [
        Threshold(
            name, getattr(args, f"warning_{name}"), getattr(args, f"critical_{name}"), describe
        )
        for name in EVENTS
    ]
    return nagiosplugin.Check(
        Varnish(Varnishstat(args.varnishstat, args.sudo, args.name, wait), args.sample),
        *contexts,
        VarnishSummary(),
    )


PLUGIN = Plugin(
    "varnish",
    build_parser,
    make_check,
    services=("vigie-varnish",),
    nagios=("varnish",),
    bench=(
        Bench("check_varnish (Varnish 7.1 capture, stub varnishstat)", ("--varnishstat",
              "{varnishstat:varnishstat_j_v7_1_7_hits_3_misses.json}", "--sample", "0.05"),
              kind="tool"),
    ),
)  # fmt: skip
main = PLUGIN.main
