"""Reading DRBD's state: /proc/drbd (DRBD 8), ``drbdsetup status --json`` and ``drbdadm
status`` (DRBD 9), into one model that check_drbd judges.

DRBD 8 names one connection state per minor (``cs:SyncSource`` says both "connected" and
"resyncing"); DRBD 9 splits it into the connection state (``Connected``, ``StandAlone``,
``Connecting`` …) and, per volume and peer, the replication state (``Established``,
``SyncSource`` …). The model is DRBD 9's: a :class:`Volume` of a resource with its local
role and disk, and one :class:`Peer` per connection with the peer's role, disk and
replication. A DRBD 8 minor is the resource ``drbdN`` with one volume and one peer.
Out-of-sync amounts are in bytes (DRBD prints KiB). Pure functions: text in, model out.
"""

from __future__ import annotations

import json
import re

from checks.core.errors import ParseError

#: DRBD 9 connection states, and those DRBD 8 names by ``cs:`` when not connected.
CONNECTION_STATES = frozenset(
    ("StandAlone", "Disconnecting", "Unconnected", "Timeout", "BrokenPipe", "NetworkFailure",
     "ProtocolError", "TearDown", "Connecting", "WFConnection", "WFReportParams", "Connected")
)  # fmt: skip
#: Replication states (DRBD 8 ``cs:`` values of a connected minor, ``Connected`` aside).
REPLICATION_STATES = frozenset(
    ("Off", "Established", "StartingSyncS", "StartingSyncT", "WFBitMapS", "WFBitMapT",
     "WFSyncUUID", "SyncSource", "SyncTarget", "VerifyS", "VerifyT", "PausedSyncS",
     "PausedSyncT", "Ahead", "Behind")
)  # fmt: skip
DISK_STATES = frozenset(
    ("Diskless", "Attaching", "Detaching", "Failed", "Negotiating", "Inconsistent", "Outdated",
     "DUnknown", "Consistent", "UpToDate")
)  # fmt: skip
ROLES = frozenset(("Primary", "Secondary", "Unknown"))
KIB = 1024


class Peer:
    """A connection to one peer, as one volume sees it."""

    __slots__ = ("client", "connection", "disk", "done", "eta", "name", "out_of_sync",
                 "replication", "role")  # fmt: skip

    def __init__(self, name: str, connection: str = "Connected", role: str = "Unknown") -> None:
        self.name, self.connection, self.role = name, connection, role
        self.replication = "Established" if connection == "Connected" else "Off"
        self.disk = "DUnknown"
        self.client = False  # diskless on purpose (a DRBD 9 client)
        self.out_of_sync: int | None = None  # bytes
        self.done: float | None = None  # resync progress, percent
        self.eta: float | None = None  # seconds left of the resync


class Volume:
    """One volume of a resource on this node, and its peers."""

    __slots__ = ("client", "disk", "minor", "peers", "quorum", "resource", "role", "suspended",
                 "volume")  # fmt: skip

    def __init__(self, resource: str, volume: int | None, role: str) -> None:
        self.resource, self.volume, self.role = resource, volume, role
        self.minor: int | None = None
        self.disk = "DUnknown"
        self.client = False
        self.quorum: bool | None = None  # DRBD 9 only
        self.suspended = False
        self.peers: list[Peer] = []

    @property
    def label(self) -> str:
        """``r0/1`` for volume 1 of r0, ``drbd3`` for a DRBD 8 minor."""
        return self.resource if self.volume is None else f"{self.resource}/{self.volume}"


# ---------------------------------------------------------------- /proc/drbd (DRBD 8)

_MINOR = re.compile(r"^\s*(\d+):\s+cs:(\S+)(.*)$")
_FIELD = re.compile(r"\b(ro|st|ds):(\S+)/(\S+)")
_OOS = re.compile(r"\boos:(\d+)")
_SYNCED = re.compile(r"sync'ed:\s*([\d.]+)%")
_FINISH = re.compile(r"finish:\s*(\d+):(\d\d):(\d\d)")
_VERSION = re.compile(r"^version:\s*(\d+)\.(\d+)", re.MULTILINE)


def proc_version(text: str) -> tuple[int, int]:
    """The DRBD kernel module's version from /proc/drbd's first line."""
    found = _VERSION.search(text)
    if not found:
        raise ParseError("/proc/drbd has no 'version:' line")
    return int(found[1]), int(found[2])


def parse_proc_drbd(text: str) -> list[Volume]:
    """Every configured minor of a DRBD 8 /proc/drbd (unconfigured ones are left out)."""
    proc_version(text)
    volumes: list[Volume] = []
    current: Volume | None = None
    for line in text.replace("\x00", "").splitlines():
        minor = _MINOR.match(line)
        if minor:
            current = _proc_minor(int(minor[1]), minor[2], minor[3])
            if current is not None:
                volumes.append(current)
        elif current is not None and current.peers:
            _proc_details(current.peers[0], line)
    return volumes


def _proc_minor(number: int, state: str, rest: str) -> Volume | None:
    if state == "Unconfigured":
        return None
    fields = {key: (local, peer) for key, local, peer in _FIELD.findall(rest)}
    roles = fields.get("ro") or fields.get("st")
    disks = fields.get("ds")
    if roles is None or disks is None:
        raise ParseError(f"/proc/drbd: minor {number} has no role or disk states: {rest.strip()!r}")
    volume = Volume(f"drbd{number}", None, roles[0])
    volume.minor, volume.disk = number, disks[0]
    if state in CONNECTION_STATES:
        peer = Peer("peer", state, roles[1])
    else:  # connected, and a replication state (Connected is Established)
        peer = Peer("peer", "Connected", roles[1])
        peer.replication = "Established" if state == "Connected" else state
    peer.disk = disks[1]
    volume.peers.append(peer)
    return volume


def _proc_details(peer: Peer, line: str) -> None:
    """Out-of-sync KiB, resync percentage and time to finish, from a minor's later lines."""
    oos = _OOS.search(line)
    if oos:
        peer.out_of_sync = int(oos[1]) * KIB
    synced = _SYNCED.search(line)
    if synced:
        try:
            peer.done = float(synced[1])
        except ValueError:
            raise ParseError(f"/proc/drbd: unreadable sync progress {synced[1]!r}") from None
    finish = _FINISH.search(line)
    if finish:
        peer.eta = int(finish[1]) * 3600 + int(finish[2]) * 60 + int(finish[3])


# ------------------------------------------------------- drbdsetup status --json (DRBD 9)


def parse_status_json(text: str) -> list[Volume]:
    """Every volume of every resource of ``drbdsetup status --json``."""
    try:
        resources = json.loads(text)
    except ValueError as error:
        raise ParseError(f"drbdsetup status --json printed no JSON ({error})") from None
    if not isinstance(resources, list):
        raise ParseError("drbdsetup status --json: not a list of resources")
    try:
        return [volume for resource in resources for volume in _json_resource(resource)]
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        raise ParseError(f"drbdsetup status --json: unexpected layout ({error!r})") from None


def _json_resource(resource: dict[str, object]) -> list[Volume]:
    name, role = _text(resource["name"]), _text(resource["role"])
    volumes: dict[int, Volume] = {}
    for device in _items(resource.get("devices", [])):
        volume = Volume(name, _integer(device["volume"]), role)
        volume.minor = _integer(device["minor"])
        volume.disk = _text(device["disk-state"])
        volume.client = device.get("client") is True
        quorum = device.get("quorum")
        volume.quorum = quorum if isinstance(quorum, bool) else None
        volume.suspended = resource.get("suspended") is True
        volumes[volume.volume or 0] = volume
    for connection in _items(resource.get("connections", [])):
        state, peer_role = _text(connection["connection-state"]), _text(connection["peer-role"])
        seen = set()
        for peer_device in _items(connection.get("peer_devices", [])):
            number = _integer(peer_device["volume"])
            peer = Peer(_text(connection["name"]), state, peer_role)
            peer.replication = _text(peer_device["replication-state"])
            peer.disk = _text(peer_device["peer-disk-state"])
            peer.client = peer_device.get("peer-client") is True
            if "out-of-sync" in peer_device:
                peer.out_of_sync = _integer(peer_device["out-of-sync"]) * KIB
            peer.done = _number(peer_device.get("percent-resync-done"))
            eta = _number(peer_device.get("estimated-seconds-to-finish"))
            peer.eta = None if eta is None or eta >= 987654321 else eta  # drbdsetup: no rate
            if number in volumes:
                volumes[number].peers.append(peer)
                seen.add(number)
        for number, volume in volumes.items():  # a connection down lists no peer device
            if number not in seen:
                volume.peers.append(Peer(_text(connection["name"]), state, peer_role))
    return list(volumes.values())


def _items(value: object) -> list[dict[str, object]]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise TypeError(f"expected a list of objects, got {value!r:.60}")
    return value


def _text(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"expected a name, got {value!r:.60}")
    return value


def _number(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {value!r:.60}")
    return float(value)


def _integer(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TypeError(f"expected a count, got {value!r:.60}")
    return value


# ------------------------------------------------------------- drbdadm status (DRBD 9)


def parse_status_text(text: str) -> list[Volume]:
    """Every volume of every resource of ``drbdadm status`` (``drbdsetup status``) text.

    A resource line starts at column 0 (``r0 role:Primary``); at indent 2 come its devices
    (``volume:0 disk:UpToDate``, or ``disk:…`` alone for a single volume 0) and its
    connections (``node2 role:Secondary``, or ``node2 connection:Connecting`` when not
    connected); at indent 4 a connection's peer devices (``volume:0 peer-disk:UpToDate``,
    ``replication:SyncSource peer-disk:Inconsistent done:96.47``). Deeper lines continue
    the item above them (``--statistics``: ``out-of-sync:…``).
    """
    reader = _StatusText()
    for raw in text.splitlines():
        if raw.strip():
            reader.line(raw)
    reader.close_connection()
    return reader.volumes


class _StatusText:
    """The reading state of :func:`parse_status_text`: where the last line belongs."""

    def __init__(self) -> None:
        self.volumes: list[Volume] = []
        self.devices: dict[int, Volume] = {}
        self.resource: tuple[str, str, bool] | None = None  # name, role, suspended
        self.connection: Peer | None = None  # the connection's name, state and role
        self.seen: set[int] = set()  # its volumes with a peer-device line
        self.last: Volume | Peer | None = None  # what continuation lines add to

    def line(self, raw: str) -> None:
        indent = len(raw) - len(raw.lstrip(" "))
        words = raw.split()
        named = ":" not in words[0]  # a resource or a connection: its name, then key:value
        if any(":" not in word for word in words[named:]):
            raise ParseError(f"drbdadm status: {raw.strip()!r:.80} is not 'name key:value …'")
        pairs = dict(word.split(":", 1) for word in words[named:])
        if indent == 0 and not named:
            raise ParseError(f"drbdadm status: {raw.strip()!r:.80} is not a resource line")
        if indent == 0:
            self.close_connection()
            self.devices = {}
            suspended = pairs.get("suspended", "no") != "no"
            self.resource = (words[0], pairs.get("role", "Unknown"), suspended)
            self.last = None
        elif self.resource is None:
            raise ParseError(f"drbdadm status: {raw.strip()!r} comes before any resource")
        elif indent == 2 and named:
            self.close_connection()
            state = pairs.get("connection", "Connected")
            self.connection = Peer(words[0], state, pairs.get("role", "Unknown"))
            self.last = None
        elif indent == 2 and self.connection is None:
            self.last = self._device(pairs)
        elif indent == 4 and self.connection is not None:
            self.last = self._peer_device(pairs)
        elif isinstance(self.last, Volume):
            _device_fields(self.last, pairs)
        elif isinstance(self.last, Peer):
            _peer_fields(self.last, pairs)

    def _device(self, pairs: dict[str, str]) -> Volume:
        name, role, suspended = self.resource or ("", "", False)
        number = _volume_number(pairs.get("volume", "0"))
        volume = Volume(name, number, role)
        volume.suspended = suspended
        _device_fields(volume, pairs)
        self.devices[number] = volume
        self.volumes.append(volume)
        return volume

    def _peer_device(self, pairs: dict[str, str]) -> Peer | None:
        template = self.connection
        number = _volume_number(pairs.get("volume", "0"))
        if template is None or number not in self.devices:
            return None
        peer = Peer(template.name, template.connection, template.role)
        _peer_fields(peer, pairs)
        self.devices[number].peers.append(peer)
        self.seen.add(number)
        return peer

    def close_connection(self) -> None:
        """Give the volumes without a peer-device line the connection's bare state."""
        if self.connection is not None:
            template = self.connection
            for number, volume in self.devices.items():
                if number not in self.seen:
                    volume.peers.append(Peer(template.name, template.connection, template.role))
        self.connection, self.seen = None, set()


def _device_fields(volume: Volume, pairs: dict[str, str]) -> None:
    volume.disk = pairs.get("disk", volume.disk)
    volume.client = pairs.get("client", "yes" if volume.client else "no") == "yes"
    if "quorum" in pairs:
        volume.quorum = pairs["quorum"] == "yes"


def _peer_fields(peer: Peer, pairs: dict[str, str]) -> None:
    peer.replication = pairs.get("replication", peer.replication)
    peer.disk = pairs.get("peer-disk", peer.disk)
    peer.client = pairs.get("peer-client", "yes" if peer.client else "no") == "yes"
    try:
        if "done" in pairs:
            peer.done = float(pairs["done"])
        if "out-of-sync" in pairs:
            peer.out_of_sync = int(pairs["out-of-sync"]) * KIB
        if "eta" in pairs and pairs["eta"] != "nan":
            peer.eta = float(pairs["eta"])
    except ValueError:
        raise ParseError(f"drbdadm status: unreadable numbers in {pairs!r:.80}") from None


def _volume_number(text: str) -> int:
    if not text.isdigit():
        raise ParseError(f"drbdadm status: {text!r} is not a volume number")
    return int(text)
