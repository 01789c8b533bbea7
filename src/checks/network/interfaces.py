"""check_interfaces: whether the network interfaces are up, fast, full duplex and clean.

Reads /sys/class/net and /proc/net/dev directly (no tool, no netlink library). Per
interface: CRITICAL when it is administratively down, its operstate is down (or
lowerlayerdown, notpresent) or it has no carrier; WARNING when it is dormant or testing,
negotiated below ``--speed MBIT``, or runs half duplex. Errors and drops (receive plus
transmit) are judged per second (``-w/--warning-errors``/``-c/--critical-errors``, default 1/10,
``--warning-drops``/``--critical-drops``, no default: some NICs count every frame of an
unknown protocol as a drop), rates over the interval since the previous run, or over a
``--sample`` (see :mod:`checks.core.statefile`). A counter going backwards (the interface
was re-created, its driver reloaded, a 32-bit counter wrapped) discards the stored
reading; within a sample a 32-bit wrap is unwrapped and a reset counts from zero, so a
rate is never negative.

A bond (a ``bonding/`` directory in sysfs) is judged from /proc/net/bonding/BOND (or, in
a sysfs tree captured without /proc, from ``bonding/`` and the slaves' ``bonding_slave/``): its mode
and active slave are shown; a slave whose MII status is down, or (802.3ad) that is not in
the active aggregator, is WARNING; all slaves down, or none, is CRITICAL. Its slaves are
judged as part of the bond only (their own link state would otherwise alert twice).

Which interfaces: by default every one except loopback, container and VM plumbing
(docker*, veth*, virbr*, br-<id>, vnet*, tap*, cali*, flannel.*, cni*, podman*, ifb*,
Proxmox fw*) and interfaces administratively down (unused ports are listed, not judged);
``-i/--include REGEX`` checks exactly the interfaces it matches (these included, and down
ones judged), ``-x/--exclude REGEX`` leaves some out. ``--sys DIR`` (or
``$VIGIE_SYS_ROOT``) reads another sysfs tree, ``$VIGIE_PROC_ROOT`` another /proc.

Perfdata per interface: ``NAME_errors`` and ``NAME_drops`` (per second), ``NAME_rx`` and
``NAME_tx`` (byte counters, ``c``, for graphs of the traffic). No C plugin twin.
"""

from __future__ import annotations

import argparse
import re
import zlib

import nagiosplugin
from nagiosplugin.state import Critical, Ok, Warn

from checks.core import statefile
from checks.core.cli import Parser, add_thresholds, regex
from checks.core.errors import CannotCheck
from checks.core.evaluate import Summary, Threshold, Verdict, show
from checks.core.output import STATE_NAMES, screen
from checks.core.runtime import Bench, Local, Plugin
from checks.network import _links
from checks.network._links import Bonding, Link

#: Interfaces skipped unless ``--include`` names them: containers', VMs' and bridges' plumbing
#: (name prefixes: a tuple for str.startswith costs nothing, a regex ~0.6 ms to compile).
VIRTUAL_PREFIXES = ("docker", "veth", "virbr", "vnet", "tap", "cali", "flannel.", "cni",
                    "podman", "ifb", "fwbr", "fwpr", "fwln")  # fmt: skip
HEX = frozenset("0123456789abcdef")


def virtual(name: str) -> bool:
    """Loopback, or plumbing of containers and VMs: ``docker0``, ``br-0123456789ab`` …"""
    if name == "lo" or name.startswith(VIRTUAL_PREFIXES):
        return True
    return name.startswith("br-") and len(name) == 15 and set(name[3:]) <= HEX


#: operstate values (RFC 2863) that mean no traffic can pass.
DOWN_STATES = ("down", "lowerlayerdown", "notpresent")
#: operstate values that mean the link waits for something (802.1X, a test).
WAITING_STATES = ("dormant", "testing")
COUNTERS = ("rx_bytes", "tx_bytes", "rx_errors", "tx_errors", "rx_dropped", "tx_dropped")
WRAP_32 = 2**32


def increase(before: int | float, after: int | float) -> float:
    """How much a counter grew: a 32-bit counter's wrap unwrapped, a reset counted from 0."""
    if after >= before:
        return after - before
    if WRAP_32 // 2 <= before < WRAP_32:  # a 32-bit counter near its top went round
        return WRAP_32 - before + after
    return after  # the counter restarted (device re-created, driver reloaded)


def candidates(
    names: list[str], include: re.Pattern[str] | None, exclude: re.Pattern[str] | None
) -> list[str]:
    """The interfaces worth reading: ``--include``'s, or all but the plumbing; less -x's."""
    return [
        name
        for name in names
        if not (exclude is not None and exclude.search(name))
        and (include.search(name) if include is not None else not virtual(name))
    ]


def selected(links: list[Link], explicit: bool) -> tuple[list[Link], list[str]]:
    """The interfaces to judge, and notes on those left out: by default, loopback (found
    by type, whatever its name) and ports administratively down."""
    if explicit:
        return links, []
    chosen, notes = [], []
    for link in links:
        if link.loopback:
            continue
        if not link.admin_up:
            notes.append(f"{link.name} is administratively down: not judged")
        else:
            chosen.append(link)
    return chosen, notes


class Interfaces(nagiosplugin.Resource):
    """Link states, bonds and counter rates of the selected interfaces."""

    def __init__(
        self,
        root: str,
        include: re.Pattern[str] | None,
        exclude: re.Pattern[str] | None,
        sample: float,
    ) -> None:
        self.root, self.include, self.exclude, self.sample = root, include, exclude, sample
        self.notes: list[str] = []
        self.interval = ""

    def probe(self) -> list[nagiosplugin.Metric]:
        """Read sysfs, the bonds, and two readings of /proc/net/dev."""
        names = candidates(_links.link_names(self.root), self.include, self.exclude)
        links = [_links.read_link(self.root, name) for name in names]
        chosen, self.notes = selected(links, self.include is not None)
        if not chosen:
            which = f"matches {self.include.pattern!r}" if self.include else "is left to check"
            raise CannotCheck(f"no interface {which} in {self.root}/class/net")
        bonds = {link.name for link in links if link.bond}
        metrics = []
        for link in chosen:
            if link.bond:
                bonded = (link, _links.read_bonding(self.root, link.name))
                metrics.append(nagiosplugin.Metric(f"{link.name}_bond", bonded, context="bond"))
            elif link.master not in bonds:
                metrics.append(nagiosplugin.Metric(f"{link.name}_link", link, context="link"))
        return metrics + self._rates([link.name for link in chosen])

    def _rates(self, names: list[str]) -> list[nagiosplugin.Metric]:
        """Errors and drops per second, and the byte counters, of each interface."""

        def read() -> dict[str, float]:
            counters = _links.read_net_dev()
            missing = [name for name in names if name not in counters]
            if missing:
                raise CannotCheck(f"/proc/net/dev has no counters for {', '.join(missing)}")
            return {f"{name} {key}": counters[name][key] for name in names for key in COUNTERS}

        # One state per set of interfaces: services judging different sets never share one
        # (zlib's checksum: hashlib would load OpenSSL, ~2 ms).
        key = f"{zlib.crc32(' '.join(names).encode()):08x}"
        interval = statefile.counters(f"interfaces-{key}", read, self.sample)
        self.interval = interval.how

        def rate(name: str, *keys: str) -> float:
            grown = sum(
                increase(interval.before[f"{name} {key}"], interval.after[f"{name} {key}"])
                for key in keys
            )
            return grown / interval.seconds

        metrics = []
        for name in names:
            errors = rate(name, "rx_errors", "tx_errors")
            drops = rate(name, "rx_dropped", "tx_dropped")
            metrics += [
                nagiosplugin.Metric(f"{name}_errors", errors, "", 0, context="errors"),
                nagiosplugin.Metric(f"{name}_drops", drops, "", 0, context="drops"),
                nagiosplugin.Metric(f"{name}_rx", interval.after[f"{name} rx_bytes"], "c", 0,
                                    context="traffic"),
                nagiosplugin.Metric(f"{name}_tx", interval.after[f"{name} tx_bytes"], "c", 0,
                                    context="traffic"),
            ]  # fmt: skip
        return metrics


def describe_link(link: Link) -> str:
    """``eth0 up 1000 Mbit/s full duplex``."""
    if not link.admin_up:
        return f"{screen(link.name)} administratively down"
    if link.carrier is False:  # operstate follows the carrier a moment later (linkwatch)
        state = link.operstate if link.operstate in DOWN_STATES else "down"
        return f"{screen(link.name)} {state} (no carrier)"
    state = link.operstate
    if state == "unknown":  # lo, tun, dummy: drivers that report no operstate
        state = "up (no operstate from the driver)"
    parts = [screen(link.name), state]
    if link.speed is not None:
        parts.append(f"{link.speed} Mbit/s")
    if link.duplex is not None:
        parts.append(f"{link.duplex} duplex")
    return " ".join(parts)


class LinkState(nagiosplugin.Context):
    """Admin and operational state, carrier, speed and duplex of one interface."""

    def __init__(self, min_speed: int | None) -> None:
        super().__init__("link", result_cls=Verdict)
        self.min_speed = min_speed

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> Verdict:
        """CRITICAL when no traffic can pass, WARNING when it passes degraded."""
        link: Link = metric.value
        if not link.admin_up:
            return Verdict(Critical, None, metric)
        if link.operstate in DOWN_STATES or link.carrier is False:
            return Verdict(Critical, None, metric)
        problems = []
        if link.operstate in WAITING_STATES:
            problems.append(f"(not passing traffic: {link.operstate})")
        if self.min_speed is not None and link.speed is not None and link.speed < self.min_speed:
            problems.append(f"< {self.min_speed} Mbit/s")
        if link.duplex == "half":
            problems.append("(half duplex)")
        return Verdict(Warn if problems else Ok, " ".join(problems) or None, metric)

    def describe(self, metric: nagiosplugin.Metric) -> str:
        return describe_link(metric.value)


class BondState(nagiosplugin.Context):
    """A bond's own link, then its slaves: some down is degraded, all down is down."""

    def __init__(self, link_state: LinkState) -> None:
        super().__init__("bond", result_cls=Verdict)
        self.link_state = link_state

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> Verdict:
        """The bond's link verdict when not OK; else CRITICAL with no slave up, WARNING
        with one down or outside the active aggregator."""
        link, bonding = metric.value
        verdict = self.link_state.evaluate(nagiosplugin.Metric(metric.name, link), resource)
        if verdict.state != Ok:
            return Verdict(verdict.state, verdict.hint, metric)
        up = [slave for slave in bonding.slaves if slave.mii == "up"]
        if not up:
            what = "no slave" if not bonding.slaves else "every slave down"
            return Verdict(Critical, f"({what})", metric)
        problems = [f"{screen(slave.name)} down" for slave in bonding.slaves if slave.mii != "up"]
        if bonding.active_aggregator is not None:
            problems += [
                f"{screen(slave.name)} not in the active aggregator {bonding.active_aggregator}"
                for slave in up
                if slave.aggregator not in (None, bonding.active_aggregator)
            ]
        hint = f"({', '.join(problems)})" if problems else None
        return Verdict(Warn if problems else Ok, hint, metric)

    def describe(self, metric: nagiosplugin.Metric) -> str:
        """``bond0 up, active-backup 1/2 slaves up, active eth0``."""
        link: Link
        bonding: Bonding
        link, bonding = metric.value
        up = sum(slave.mii == "up" for slave in bonding.slaves)
        text = f"{describe_link(link)}, {screen(bonding.mode)} {up}/{len(bonding.slaves)} slaves up"
        return text + (f", active {screen(bonding.active)}" if bonding.active else "")


def describe_rate(metric: nagiosplugin.Metric) -> str:
    """``eth0 errors 2.5/s``."""
    name, _, kind = metric.name.rpartition("_")
    return f"{name} {kind} {show(metric.value)}/s"


class InterfacesSummary(Summary):
    """``eth0 up 1000 Mbit/s full duplex, bond bond0 … over the last 60 s``."""

    def __init__(self) -> None:
        super().__init__(long_output=True)

    def ok(self, results: nagiosplugin.Results) -> str:
        """Every interface's state, and the interval the rates cover."""
        states = [str(result) for result in results if result.metric.context in ("link", "bond")]
        return (
            f"{', '.join(states)}; no errors or drops above limits {results[0].resource.interval}"
        )

    def problem(self, results: nagiosplugin.Results) -> str:
        """The problems, then the interval the rates cover when a rate is one of them."""
        rates = any(r.state != Ok and r.metric.context in ("errors", "drops") for r in results)
        interval = f" {results[0].resource.interval}" if rates else ""
        return super().problem(results) + interval

    def verbose(self, results: nagiosplugin.Results) -> list[str]:
        """Every judged item, then the interfaces left out."""
        shown = [result for result in results.results if result.metric.context != "traffic"]
        return [f"{STATE_NAMES[result.state.code]}: {result}" for result in shown] + (
            results[0].resource.notes if results.results else []
        )


def build_parser() -> Parser:
    """check_interfaces' options: selection, speed, error and drop rates, sysfs root."""
    parser = Parser(
        "check_interfaces",
        __doc__.split("\n\n")[0],
        examples=(
            "check_interfaces                           every physical/bond/VLAN interface",
            "check_interfaces -i '^(eth|bond)' --speed 1000   those, at 1 Gbit/s at least",
            "check_interfaces -x '^wg' --critical-drops 100   drops per second",
        ),
    )
    parser.add_argument("-i", "--include", type=regex(), metavar="REGEX",
                        help="check exactly the interfaces whose name matches (virtual and "
                        "administratively down ones too)")  # fmt: skip
    parser.add_argument("-x", "--exclude", type=regex(), metavar="REGEX",
                        help="leave out the interfaces whose name matches")  # fmt: skip
    parser.add_argument("--speed", type=_mbit, metavar="MBIT",
                        help="WARNING when a link negotiated less (Mbit/s)")  # fmt: skip
    add_thresholds(parser, "errors per second per interface", metric="errors", short=True,
                   defaults=("1", "10"))  # fmt: skip
    add_thresholds(parser, "drops per second per interface", metric="drops")
    parser.add_argument("--sys", metavar="DIR", help="read DIR instead of /sys "
                        "(default: $VIGIE_SYS_ROOT or /sys)")  # fmt: skip
    statefile.add_sample_option(parser, " of the counters")
    return parser


def _mbit(text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a speed in Mbit/s (e.g. 1000)")
    return int(text)


def make_check(args: argparse.Namespace) -> nagiosplugin.Check:
    """The Check for parsed ``args``."""
    link_state = LinkState(args.speed)
    return nagiosplugin.Check(
        Interfaces(_links.sys_root(args.sys), args.include, args.exclude, args.sample),
        link_state,
        BondState(link_state),
        Threshold("errors", args.warning_errors, args.critical_errors, describe_rate),
        Threshold("drops", args.warning_drops, args.critical_drops, describe_rate),
        Threshold("traffic"),
        InterfacesSummary(),
    )


PLUGIN = Plugin(
    "interfaces",
    build_parser,
    make_check,
    local=(Local("interfaces", ("--sample", "0.4"), rank=11),),
    bench=(Bench("check_interfaces --sample 0.05", ("--sample", "0.05")),),
)  # fmt: skip
main = PLUGIN.main
