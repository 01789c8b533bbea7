"""Whether this machine's own time daemon says the clock is synchronised.

A clock can show a small offset today and still be free-running: its daemon lost every
source, or was never started, and the offset will grow until the next incident. The
daemons say so themselves: chronyd (``chronyc -n -c tracking``), ntpd (``ntpq -pn``: a
system peer marked ``*`` or ``o``), and systemd-timesyncd through ``timedatectl show``
(``NTPSynchronized``, the kernel's own "synchronised" flag, which any daemon sets).

The parsers are pure (text -> :class:`LocalSync`); :func:`observe` runs the tools through
:mod:`checks.core.external`. ``auto`` asks each daemon in turn (chronyd, ntpd, then
timesyncd when systemd runs) and takes the first that answers; a daemon whose tool is
missing or that does not answer is taken as not in use.
"""

from __future__ import annotations

import logging
import os

from checks.core import procfs
from checks.core.errors import CannotCheck, ParseError

log = logging.getLogger(__name__)

DAEMONS = ("chrony", "ntpd", "timesyncd")
#: chronyc's CSV tracking fields (chrony 2.x to 4.x), in order.
CHRONY_FIELDS = (
    "reference_id",
    "reference_name",
    "stratum",
    "reference_time",
    "system_time",
    "last_offset",
    "rms_offset",
    "frequency",
    "residual_frequency",
    "skew",
    "root_delay",
    "root_dispersion",
    "update_interval",
    "leap_status",
)
CHRONY_LEAP_STATUSES = ("Normal", "Insert second", "Delete second", "Not synchronised")
#: ntpq's tally codes of a peer the daemon synchronises to: system peer, PPS peer.
NTPQ_SYNC_TALLIES = ("*", "o")


class LocalSync:
    """What a time daemon reports: synchronised or not, to what, and how far off it thinks."""

    __slots__ = ("daemon", "detail", "offset", "source", "synchronised")

    def __init__(
        self,
        daemon: str,
        synchronised: bool,
        source: str = "",
        offset: float | None = None,
        detail: str = "",
    ) -> None:
        self.daemon = daemon
        self.synchronised = synchronised
        #: The reference the daemon follows (``192.0.2.1 stratum 2``), when it says.
        self.source = source
        #: The daemon's estimate of NTP time minus the local clock, in seconds.
        self.offset = offset
        #: Why it is not synchronised, in the daemon's words.
        self.detail = detail

    def __repr__(self) -> str:
        return f"LocalSync({self.daemon!r}, {self.synchronised}, {self.source!r})"


def _dotted(reference_id: str) -> str:
    """chronyd's hexadecimal reference ID as the IPv4 address it encodes (7F7F0101 ...)."""
    value = int(reference_id, 16)
    return ".".join(str(value >> shift & 255) for shift in (24, 16, 8, 0))


def parse_chrony_tracking(text: str) -> LocalSync:
    """``chronyc -n -c tracking``: one CSV line; synchronised unless the leap status says not.

    chronyd also reports "Not synchronised" with reference ID 0 before its first update
    and after it lost all sources for long enough; its ``System time`` field is the offset
    of NTP time from the local clock (negative when the local clock is fast).
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) != 1:
        raise ParseError(f"chronyc tracking: expected one CSV line, got {len(lines)}")
    fields = dict(zip(CHRONY_FIELDS, lines[0].split(","), strict=False))
    if len(fields) != len(CHRONY_FIELDS):
        raise ParseError(f"chronyc tracking: expected {len(CHRONY_FIELDS)} fields: {lines[0]!r}")
    leap = fields["leap_status"].strip()
    if leap not in CHRONY_LEAP_STATUSES:
        raise ParseError(f"chronyc tracking: unknown leap status {leap!r}")
    try:
        stratum = int(fields["stratum"])
        offset = float(fields["system_time"])
        int(fields["reference_id"], 16)
    except ValueError:
        raise ParseError(f"chronyc tracking: not a tracking report: {lines[0]!r}") from None
    synchronised = leap != "Not synchronised"
    reference = fields["reference_name"] or _dotted(fields["reference_id"])
    source = f"{reference} stratum {stratum}" if synchronised else ""
    detail = "" if synchronised else f"leap status {leap!r}"
    return LocalSync("chronyd", synchronised, source, offset, detail)


def parse_timedatectl_show(text: str) -> LocalSync:
    """``timedatectl show``: ``NTPSynchronized=yes|no`` (and ``NTP``, whether sync is on)."""
    properties = dict(line.partition("=")[::2] for line in text.splitlines() if "=" in line)
    synchronised = properties.get("NTPSynchronized")
    if synchronised not in ("yes", "no"):
        raise ParseError("timedatectl show: no NTPSynchronized=yes or no")
    if synchronised == "yes":
        return LocalSync("systemd-timesyncd", True)
    detail = "NTPSynchronized=no"
    if properties.get("NTP") == "no":
        detail += ", and network time synchronisation is off (NTP=no)"
    return LocalSync("systemd-timesyncd", False, detail=detail)


def parse_ntpq_peers(text: str) -> LocalSync:
    """``ntpq -pn``: synchronised when a peer's tally code is ``*`` (or ``o``, PPS).

    ntpq (classic ntp and NTPsec alike) prints a header, a rule of ``=``, then one line per
    peer: tally code, remote, refid, stratum, type, when, poll, reach, delay, offset, jitter
    (delay, offset and jitter in milliseconds).
    """
    lines = text.splitlines()
    rule = next((index for index, line in enumerate(lines) if line.startswith("===")), None)
    if rule is None or rule == 0 or "remote" not in lines[rule - 1]:
        raise ParseError("ntpq -p: no peer table (header and ==== rule)")
    peers = [line for line in lines[rule + 1 :] if line.strip()]
    for line in peers:
        fields = line[1:].split()
        if line[:1] in NTPQ_SYNC_TALLIES:
            if len(fields) < 10:
                raise ParseError(f"ntpq -p: cannot read the system peer line {line!r}")
            try:
                offset = float(fields[-2]) / 1000
            except ValueError:
                raise ParseError(f"ntpq -p: no offset in {line!r}") from None
            return LocalSync("ntpd", True, f"{fields[0]} stratum {fields[2]}", offset)
    detail = f"no system peer among {len(peers)} peers" if peers else "no peers configured"
    return LocalSync("ntpd", False, detail=detail)


def _ask(daemon: str, chrony_address: str | None) -> LocalSync:
    """Run the daemon's tool and parse its report; CannotCheck when the daemon is not there."""
    from checks.core import external

    if daemon == "chrony":
        address = ["-h", chrony_address] if chrony_address else []
        done = external.run(["chronyc", *address, "-n", "-c", "tracking"], "asking chronyd")
        parse = parse_chrony_tracking
    elif daemon == "ntpd":
        done = external.run(["ntpq", "-pn"], "asking ntpd")
        parse = parse_ntpq_peers
    else:
        done = external.run(["timedatectl", "show"], "asking systemd-timedated")
        parse = parse_timedatectl_show
    if done.returncode != 0 or not done.stdout.strip():
        said = (done.stderr or done.stdout).strip().splitlines()
        raise CannotCheck(
            f"{os.path.basename(done.argv[0])} failed (exit {done.returncode})"
            + (f": {said[-1]}" if said else "")
        )
    return parse(done.stdout)


def _listening_on_ntp_port() -> bool:
    """Whether a local UDP socket is bound to port 123 (/proc/net/udp and udp6)."""
    for table in ("net/udp", "net/udp6"):
        try:
            lines = procfs.read(table).splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()  # sl local_address:port rem_address:port ...
            if len(fields) > 1 and fields[1].endswith(":007B"):
                return True
    return False


def observe(mode: str, chrony_address: str | None = None) -> LocalSync | None:
    """The local synchronisation state by ``mode`` (a daemon of DAEMONS, or ``auto``).

    A named daemon that cannot be asked raises CannotCheck; ``auto`` returns None when no
    daemon answers. ``auto`` asks ntpd only when something listens on UDP port 123 (ntpq
    waits seconds for a daemon that is not there), and timesyncd only when systemd runs,
    as sd_booted(3) tells (timedatectl needs it).
    """
    if mode != "auto":
        return _ask(mode, chrony_address)
    for daemon in DAEMONS:
        if daemon == "timesyncd" and not os.path.isdir("/run/systemd/system"):
            continue
        if daemon == "ntpd" and not _listening_on_ntp_port():
            continue  # ntpq would wait seconds for a daemon that is not there
        try:
            return _ask(daemon, chrony_address)
        except ParseError:
            raise
        except CannotCheck as error:
            log.info("%s: not in use (%s)", daemon, error)
    return None
