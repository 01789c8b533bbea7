"""Reading network interfaces from the kernel: /sys/class/net, /proc/net/dev, bonding.

The pure parsers (:func:`parse_net_dev`, :func:`parse_bonding`) take the text of the
kernel's files; :func:`read_link` and :func:`read_links` read one sysfs attribute per
file, which is what the kernel offers (no netlink library needed). ``$VIGIE_SYS_ROOT``
(or ``--sys DIR``) points at a directory laid out like /sys, ``$VIGIE_PROC_ROOT`` at one
laid out like /proc, so a check replays a tree captured elsewhere. Inside a network
namespace, ``ip netns exec`` remounts /sys for it and /proc/net is per namespace already.
"""

from __future__ import annotations

import os

from checks.core import procfs
from checks.core.errors import ParseError
from checks.core.runtime import doing

#: ARPHRD_LOOPBACK, the ``type`` of lo.
LOOPBACK_TYPE = 772
#: IFF_UP in ``flags``: the interface is administratively up.
IFF_UP = 0x1
#: The counters kept from /proc/net/dev, in its column order (receive, then transmit).
NET_DEV_COLUMNS = {
    "rx_bytes": 0, "rx_errors": 2, "rx_dropped": 3,
    "tx_bytes": 8, "tx_errors": 10, "tx_dropped": 11,
}  # fmt: skip


def sys_root(option: str | None = None) -> str:
    """The /sys to read: ``--sys``, else ``$VIGIE_SYS_ROOT``, else ``/sys``."""
    return option or os.environ.get("VIGIE_SYS_ROOT") or "/sys"


class Link:
    """One interface as sysfs shows it (speed in Mbit/s; None where the driver tells none)."""

    __slots__ = (
        "admin_up", "bond", "carrier", "duplex", "loopback", "master", "name", "operstate",
        "speed",
    )  # fmt: skip

    def __init__(
        self,
        name: str,
        operstate: str,
        *,
        admin_up: bool = True,
        carrier: bool | None = None,
        speed: int | None = None,
        duplex: str | None = None,
        loopback: bool = False,
        master: str | None = None,
        bond: bool = False,
    ) -> None:
        self.name, self.operstate, self.admin_up, self.carrier = name, operstate, admin_up, carrier
        self.speed, self.duplex, self.loopback = speed, duplex, loopback
        self.master, self.bond = master, bond


def _attribute(directory: str, name: str) -> str | None:
    """A sysfs attribute's text, or None where the driver refuses it (EINVAL when down …)."""
    try:
        with open(os.path.join(directory, name), "rb") as file:  # bytes: no codec set-up
            return file.read().decode("utf-8", "replace").strip()
    except OSError:
        return None


def _integer(text: str | None) -> int | None:
    try:
        return int(text, 0) if text is not None else None
    except ValueError:
        return None


def read_link(root: str, name: str) -> Link:
    """The state of interface ``name`` under ``root`` (a /sys)."""
    directory = os.path.join(root, "class/net", name)
    operstate = _attribute(directory, "operstate")
    if operstate is None:
        raise ParseError(f"{directory}/operstate cannot be read: not an interface")
    flags = _integer(_attribute(directory, "flags"))
    carrier = _integer(_attribute(directory, "carrier"))
    # the driver knows speed and duplex only with a carrier (else EINVAL or "unknown")
    speed = _integer(_attribute(directory, "speed")) if carrier == 1 else None
    duplex = _attribute(directory, "duplex") if carrier == 1 else None
    master = os.path.join(directory, "master")
    return Link(
        name,
        operstate,
        admin_up=flags is None or bool(flags & IFF_UP),
        carrier=None if carrier is None else carrier == 1,
        # -1 (SPEED_UNKNOWN) and absurd values mean the driver does not know
        speed=speed if speed is not None and 0 < speed < 10_000_000 else None,
        duplex=duplex if duplex in ("full", "half") else None,
        loopback=_integer(_attribute(directory, "type")) == LOOPBACK_TYPE,
        master=os.path.basename(os.readlink(master)) if os.path.islink(master) else None,
        bond=os.path.isdir(os.path.join(directory, "bonding")),
    )


def link_names(root: str) -> list[str]:
    """Every interface under ``root``'s class/net, sorted."""
    directory = os.path.join(root, "class/net")
    with doing(f"listing {directory}"):
        return sorted(
            entry for entry in os.listdir(directory) if not entry.startswith("bonding_masters")
        )


def parse_net_dev(text: str) -> dict[str, dict[str, int]]:
    """The byte, error and drop counters of every interface in /proc/net/dev's text."""
    lines = text.splitlines()
    if len(lines) < 2 or "|" not in lines[1] or "bytes" not in lines[1]:
        raise ParseError("/proc/net/dev does not start with its two header lines")
    counters: dict[str, dict[str, int]] = {}
    for line in lines[2:]:
        name, colon, values = line.partition(":")
        fields = values.split()
        name = name.strip()
        if not colon or not name or len(fields) < 16:
            raise ParseError(f"/proc/net/dev line {line.strip()[:60]!r} is not NAME: 16 numbers")
        if not all(field.isdigit() for field in fields[:16]):
            raise ParseError(f"/proc/net/dev line for {name[:20]!r} has a non-numeric counter")
        counters[name] = {key: int(fields[column]) for key, column in NET_DEV_COLUMNS.items()}
    return counters


def read_net_dev() -> dict[str, dict[str, int]]:
    """The counters of /proc/net/dev (of this process's network namespace)."""
    return parse_net_dev(procfs.read("net/dev"))


class Slave:
    """A bond's slave in /proc/net/bonding: its MII status and LACP aggregator."""

    __slots__ = ("aggregator", "failures", "mii", "name")

    def __init__(self, name: str, mii: str, aggregator: str | None, failures: int | None) -> None:
        self.name, self.mii, self.aggregator, self.failures = name, mii, aggregator, failures


class Bonding:
    """A bond as /proc/net/bonding/BOND shows it."""

    __slots__ = ("active", "active_aggregator", "mii", "mode", "slaves")

    def __init__(
        self,
        mode: str,
        mii: str,
        active: str | None,
        active_aggregator: str | None,
        slaves: list[Slave],
    ) -> None:
        self.mode, self.mii, self.active = mode, mii, active
        self.active_aggregator, self.slaves = active_aggregator, slaves


def parse_bonding(text: str) -> Bonding:
    """The mode, active slave, aggregator and slaves of /proc/net/bonding/BOND's text.

    The file is ``Key: value`` lines: the bond's first, then a block per ``Slave
    Interface``; an 802.3ad bond adds ``Active Aggregator Info`` (indented lines) and
    each slave its ``Aggregator ID``. Lines the check does not judge are ignored.
    """
    mode = mii = None
    active = aggregator = None
    slaves: list[Slave] = []
    current: dict[str, str] | None = None
    blocks: list[dict[str, str]] = []
    in_aggregator = False
    for raw in text.splitlines():
        key, colon, value = raw.partition(":")
        indented = raw[:1] in ("\t", " ")
        key, value = key.strip(), value.strip()
        if not colon:
            in_aggregator = False
            continue
        if key == "Slave Interface":
            current = {"name": value}
            blocks.append(current)
        elif current is not None:
            current.setdefault(key, value)
        elif key == "Active Aggregator Info":
            in_aggregator = True
        elif in_aggregator and indented and key == "Aggregator ID":
            aggregator = value
        elif key == "Bonding Mode":
            mode = value
        elif key == "MII Status" and mii is None:
            mii = value
        elif key == "Currently Active Slave":
            active = None if value == "None" else value
    if mode is None or mii is None:
        raise ParseError("no 'Bonding Mode' and 'MII Status' lines: not a bonding status file")
    for block in blocks:
        if not block["name"] or "MII Status" not in block:
            raise ParseError(f"slave {block['name'][:20]!r} has no 'MII Status' line")
        slaves.append(
            Slave(
                block["name"],
                block["MII Status"],
                block.get("Aggregator ID"),
                _integer(block.get("Link Failure Count")),
            )
        )
    return Bonding(mode, mii, active, aggregator, slaves)


def read_bonding(root: str, name: str) -> Bonding:
    """/proc/net/bonding/NAME, parsed; without it, the same facts from sysfs."""
    try:
        text = procfs.read(f"net/bonding/{name}")
    except FileNotFoundError:
        return bonding_from_sysfs(root, name)
    return parse_bonding(text)


def bonding_from_sysfs(root: str, name: str) -> Bonding:
    """A bond from sysfs alone (a tree captured without /proc): ``bonding/mode``,
    ``mii_status``, ``slaves``, ``active_slave``, ``ad_aggregator``, and each slave's
    ``bonding_slave/mii_status``, ``ad_aggregator_id``, ``link_failure_count``."""
    bond = os.path.join(root, "class/net", name, "bonding")
    mode, mii = _attribute(bond, "mode"), _attribute(bond, "mii_status")
    if not mode or not mii:
        raise ParseError(f"{bond} has no readable mode and mii_status")
    slaves = []
    for slave in (_attribute(bond, "slaves") or "").split():
        directory = os.path.join(root, "class/net", slave, "bonding_slave")
        slaves.append(
            Slave(
                slave,
                _attribute(directory, "mii_status") or "unknown",
                _attribute(directory, "ad_aggregator_id") or None,
                _integer(_attribute(directory, "link_failure_count")),
            )
        )
    active = _attribute(bond, "active_slave") or None
    aggregator = _attribute(bond, "ad_aggregator") or None
    return Bonding(mode.split()[0], mii, active, aggregator, slaves)
