"""Reading the gluster CLI's ``--xml`` answers: volume info, volume status detail, heal info.

Pure functions of the text the CLI printed (no I/O), so that each is tested on real
captures. Every answer is a ``<cliOutput>`` envelope whose ``opRet`` is 0 on success; on
failure ``opErrstr`` says why (``Volume gv0 does not exist``, ``Transport endpoint is not
connected``), and that is what the check reports. The CLI prints plain text, not XML,
when it cannot reach glusterd at all: :func:`unreachable` recognises that.
"""

from __future__ import annotations

from checks.core.errors import CannotCheck, ParseError
from checks.core.xml import Element, child_int, child_text, parse_xml

#: What the CLI prints (on stdout, not XML, whatever --xml says) when glusterd is not there.
NOT_CONNECTED = "Connection failed. Please check if gluster daemon is operational."
#: glusterd's refusal when another transaction holds the pool's lock (transient).
BUSY = "Another transaction is in progress"
#: Volume types whose bricks replicate each other, so that heal info means something.
HEALING_TYPES = ("Replicate", "Disperse", "Distributed-Replicate", "Distributed-Disperse")


def unreachable(text: str) -> bool:
    """The CLI says it could not talk to glusterd (not running, or not answering)."""
    return NOT_CONNECTED in text


def envelope(text: str, source: str) -> Element:
    """The ``<cliOutput>`` root of an answer; its ``opErrstr`` as UNKNOWN if it failed."""
    root = parse_xml(text, source)
    if root.tag != "cliOutput":
        raise ParseError(f"{source} printed <{root.tag}>, not gluster's <cliOutput>")
    returned = child_int(root, "opRet")
    if returned is None:
        raise ParseError(f"{source} printed no opRet: not a complete gluster answer")
    if returned != 0:
        reason = child_text(root, "opErrstr") or "no reason given"
        errno = child_text(root, "opErrno")
        raise CannotCheck(f"{source} failed: {reason} (opRet {returned}, opErrno {errno or '?'})")
    return root


class Volume:
    """A volume as ``gluster volume info`` describes it: name, state, type, its bricks."""

    __slots__ = ("bricks", "name", "status", "type")

    def __init__(self, name: str, status: str, kind: str, bricks: list[str]) -> None:
        self.name, self.status, self.type, self.bricks = name, status, kind, bricks

    @property
    def started(self) -> bool:
        """glusterd runs the volume's bricks."""
        return self.status == "Started"

    @property
    def heals(self) -> bool:
        """Its bricks replicate each other (replica, arbiter, disperse): heal info applies."""
        return self.type in HEALING_TYPES

    def __repr__(self) -> str:
        return f"Volume({self.name!r}, {self.status!r}, {self.type!r}, {len(self.bricks)} bricks)"


def parse_volume_info(text: str) -> list[Volume]:
    """The volumes of ``gluster volume info [VOL] --xml``, in the CLI's order."""
    root = envelope(text, "gluster volume info")
    listing = root.find("volInfo/volumes")
    if listing is None:
        raise ParseError("gluster volume info printed no <volInfo><volumes>")
    volumes = []
    for element in listing.findall("volume"):
        name = child_text(element, "name")
        status = child_text(element, "statusStr")
        if not name or not status:
            raise ParseError("gluster volume info: a volume without a name or statusStr")
        bricks = [child_text(brick, "name") for brick in element.findall("bricks/brick")]
        if not all(bricks):
            raise ParseError(f"gluster volume info: a brick of {name} has no name")
        volumes.append(Volume(name, status, child_text(element, "typeStr"), bricks))
    return volumes


class Process:
    """A brick process or a volume daemon (self-heal, NFS, quota …) in volume status.

    For a brick ``host``/``path`` are its server and directory; for a daemon ``host`` is
    its kind (``Self-heal Daemon``, ``NFS Server``) and ``path`` the peer it runs on
    (``localhost`` for this one). Sizes are bytes, None when status printed none.
    """

    __slots__ = ("host", "online", "path", "pid", "size_free", "size_total")

    def __init__(self, host: str, path: str, online: bool, pid: int | None) -> None:
        self.host, self.path, self.online, self.pid = host, path, online, pid
        self.size_total: int | None = None
        self.size_free: int | None = None

    @property
    def brick(self) -> bool:
        """A brick (its path is a directory), not a daemon."""
        return self.path.startswith("/")

    @property
    def name(self) -> str:
        """``host:/path`` for a brick (as gluster names bricks), ``NFS Server on node2``."""
        return f"{self.host}:{self.path}" if self.brick else f"{self.host} on {self.path}"

    def __repr__(self) -> str:
        return f"Process({self.name!r}, online={self.online})"


def parse_volume_status(text: str) -> dict[str, list[Process]]:
    """Volume name -> its processes, from ``gluster volume status VOL|all [detail] --xml``.

    glusterd lists only what runs on peers it is connected to: a brick of a peer that is
    down is missing, not offline (compare with :func:`parse_volume_info`'s bricks).
    """
    root = envelope(text, "gluster volume status")
    listing = root.find("volStatus/volumes")
    if listing is None:
        raise ParseError("gluster volume status printed no <volStatus><volumes>")
    volumes: dict[str, list[Process]] = {}
    for element in listing.findall("volume"):
        name = child_text(element, "volName")
        if not name:
            raise ParseError("gluster volume status: a volume without a volName")
        volumes[name] = [_process(node, name) for node in element.findall("node")]
    return volumes


def _process(node: Element, volume: str) -> Process:
    host, path, status = (
        child_text(node, "hostname"),
        child_text(node, "path"),
        child_text(node, "status"),
    )
    if not host or not path or status not in ("0", "1"):
        raise ParseError(
            f"gluster volume status: a node of {volume} lacks hostname, path or status"
        )
    process = Process(host, path, status == "1", child_int(node, "pid"))
    process.size_total = child_int(node, "sizeTotal")
    process.size_free = child_int(node, "sizeFree")
    total, free = process.size_total, process.size_free
    if free is not None and total is not None and not 0 <= free <= total:
        raise ParseError(f"gluster volume status: {process.name} free size out of range")
    return process


class HealBrick:
    """One brick of ``gluster volume heal VOL info [split-brain|summary]``: how many entries
    it holds that wait to be healed (``summary``: also how many are in split-brain), or
    None when the CLI could not reach the brick."""

    __slots__ = ("entries", "name", "split_brain", "status")

    def __init__(
        self, name: str, status: str, entries: int | None, split_brain: int | None = None
    ) -> None:
        self.name, self.status, self.entries, self.split_brain = name, status, entries, split_brain

    @property
    def connected(self) -> bool:
        """The CLI reached the brick and counted its entries."""
        return self.status == "Connected" and self.entries is not None

    def __repr__(self) -> str:
        return f"HealBrick({self.name!r}, {self.status!r}, {self.entries}, {self.split_brain})"


def parse_heal_info(text: str, source: str = "gluster volume heal info") -> list[HealBrick]:
    """The bricks of a heal info answer: ``info``, ``info split-brain`` and ``info summary``.

    The layouts differ per brick: ``numberOfEntries`` (``-`` when unreachable), or the
    summary's ``totalNumberOfEntries`` and ``numberOfEntriesInSplitBrain``, absent when
    unreachable (GlusterFS 10.3 then runs the first counter's name into the status text:
    ``Failed to process entries completely. (Transport endpoint is not
    connected)totalNumberOfEntries0``, read as the words before it).
    """
    root = envelope(text, source)
    listing = root.find("healInfo/bricks")
    if listing is None:
        raise ParseError(f"{source} printed no <healInfo><bricks>")
    bricks = []
    for element in listing.findall("brick"):
        name = child_text(element, "name")
        status = child_text(element, "status").partition("totalNumberOfEntries")[0].strip()
        summary = element.find("totalNumberOfEntries") is not None
        tag = "totalNumberOfEntries" if summary else "numberOfEntries"
        entries = child_int(element, tag)
        split_brain = child_int(element, "numberOfEntriesInSplitBrain") if summary else None
        counted = entries is not None and entries >= 0 and (not summary or split_brain is not None)
        if not name or not status or (status == "Connected" and not counted):
            raise ParseError(f"{source}: a brick without name, status or its count of entries")
        if (split_brain or 0) < 0 or (entries is not None and entries < 0):
            raise ParseError(f"{source}: {name} has a negative count of entries")
        bricks.append(HealBrick(name, status, entries if counted else None, split_brain))
    return bricks
