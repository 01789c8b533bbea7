"""Mounted filesystems: the mount table, which mounts to judge, and statvfs that cannot hang.

check_partitions and check_inodes judge the same mounts and differ only in what they read
from ``statvfs``; this module is what they share on the gathering side:

* :func:`parse_mountinfo` reads ``/proc/self/mountinfo`` (not ``/proc/mounts``: it has the
  device number, which tells bind mounts and btrfs subvolumes of one filesystem apart
  from distinct filesystems, and the mount point is never ambiguous), undoing the kernel's
  octal escapes (``\\040`` for a space).
* :func:`select` applies check_disk's selection rules (``-p``, ``-E``, ``-x``, ``-X``,
  ``-N``, ``-l``, ``-r``/``-R``, ``-i``/``-I``) plus vigie's regex rules on fs types, and
  leaves out pseudo filesystems (:data:`PSEUDO_TYPES`) unless they are asked for.

The ``statvfs`` calls themselves run through
:func:`checks.core.threads.answer_each_within`, given up on by a deadline: a hung NFS or
FUSE server blocks a worker thread, never the check, and the other mounts go on in fresh
workers, so every other mount is still judged.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

from checks.core import procfs
from checks.core.errors import CannotCheck, ParseError
from checks.core.runtime import doing

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re

#: Filesystem types left out unless asked for (``-N TYPE``, ``--also-type TYPE``,
#: ``--type-regex``, or ``-p`` naming the mount): kernel interfaces without storage
#: (proc, sysfs, cgroup…), read-only images that are full by design (squashfs, iso9660,
#: erofs), container layers whose space is that of the disk below (overlay), and memory
#: filesystems (tmpfs, devtmpfs, ramfs), whose fill is a memory matter. This is Icinga's ITL
#: ``disk_exclude_type`` list plus the kernel interfaces it does not name.
PSEUDO_TYPES = frozenset({
    "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "cramfs", "debugfs",
    "devfs", "devpts", "devtmpfs", "efivarfs", "erofs", "fdescfs", "fuse.gvfs-fuse-daemon",
    "fuse.gvfsd-fuse", "fuse.lxcfs", "fuse.portal", "fuse.snapfuse", "fusectl", "hugetlbfs",
    "iso9660", "mqueue", "mtmfs", "nfsd", "none", "nsfs", "overlay", "proc", "pstore", "ramfs",
    "rootfs", "rpc_pipefs", "securityfs", "selinuxfs", "squashfs", "sysfs", "tmpfs", "tracefs",
    "udf",
})  # fmt: skip

#: Filesystem types served over the network, left out by ``-l/--local`` (as are sources of
#: the form ``host:/path`` and ``//host/share``).
REMOTE_TYPES = frozenset({
    "9p", "afs", "ceph", "cifs", "davfs", "fuse.ceph", "fuse.glusterfs", "fuse.rclone",
    "fuse.s3fs", "fuse.sshfs", "glusterfs", "gpfs", "lustre", "ncpfs", "nfs", "nfs4", "smb3",
    "smbfs",
})  # fmt: skip


class Mount:
    """One line of ``/proc/self/mountinfo``; ``path`` and ``source`` are unescaped."""

    __slots__ = ("device", "fs_type", "mount_id", "options", "parent_id", "path", "root",
                 "source")  # fmt: skip

    def __init__(
        self,
        mount_id: int,
        parent_id: int,
        device: str,
        root: str,
        path: str,
        options: str,
        fs_type: str,
        source: str,
    ) -> None:
        self.mount_id, self.parent_id, self.device, self.root = mount_id, parent_id, device, root
        self.path, self.options, self.fs_type, self.source = path, options, fs_type, source

    @property
    def name(self) -> str:
        """The mount point as people read it (bytes that are not UTF-8 shown as �)."""
        return printable(self.path)

    @property
    def remote(self) -> bool:
        """Served over the network, as gnulib's ``ME_REMOTE`` (check_disk ``-l``) decides."""
        return (
            self.fs_type in REMOTE_TYPES
            or ":" in self.source.split("/", 1)[0]
            or self.source.startswith("//")
        )

    def __repr__(self) -> str:
        return f"Mount({self.path!r}, {self.fs_type!r}, {self.source!r}, {self.device})"


def printable(text: str) -> str:
    """``text`` read with surrogateescape, made safe to print."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def unescape(field: str) -> str:
    """Undo the kernel's octal escapes of space, tab, newline and backslash (``\\040``)."""
    if "\\" not in field:
        return field
    parts = field.split("\\")
    out = [parts[0]]
    for part in parts[1:]:
        code = part[:3]
        if len(code) == 3 and all("0" <= char <= "7" for char in code):
            out.append(chr(int(code, 8)) + part[3:])
        else:  # a lone backslash: keep it, the kernel would have escaped it otherwise
            out.append("\\" + part)
    return "".join(out)


def parse_mountinfo(text: str) -> list[Mount]:
    """The mounts of ``/proc/<pid>/mountinfo``, in the kernel's order (proc(5)).

    ``36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue``:
    id, parent id, major:minor, root, mount point, options, optional fields up to ``-``,
    then type, source and superblock options. Fields are split on single spaces, so an
    empty source (``mount -t tmpfs "" /x``) keeps its place.
    """
    mounts = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split(" ")
        try:
            separator = fields.index("-", 6)
            fs_type, source = fields[separator + 1], fields[separator + 2]
            major, minor = fields[2].split(":")
            int(major), int(minor)  # validates the device number
            mount = Mount(
                int(fields[0]),
                int(fields[1]),
                fields[2],
                unescape(fields[3]),
                unescape(fields[4]),
                fields[5],
                unescape(fs_type),
                unescape(source),
            )
        except (ValueError, IndexError):
            raise ParseError(f"mountinfo line {number} is not a mount: {line[:100]!r}") from None
        if not mount.path.startswith("/") or not fs_type:
            raise ParseError(f"mountinfo line {number} has no mount point: {line[:100]!r}")
        mounts.append(mount)
    return mounts


def read_mounts() -> list[Mount]:
    """The visible mounts of this process (``$VIGIE_PROC_ROOT/self/mountinfo``)."""
    path = os.path.join(procfs.root(), "self", "mountinfo")
    # surrogateescape: a mount point that is not UTF-8 must reach statvfs byte for byte.
    with doing(f"reading {path}"), open(path, encoding="utf-8", errors="surrogateescape") as file:
        text = file.read()
    return visible(parse_mountinfo(text))


def visible(mounts: Iterable[Mount]) -> list[Mount]:
    """Drop mounts hidden by a later mount on the same mount point (the kernel lists both)."""
    top: dict[str, Mount] = {}
    for mount in mounts:
        top.pop(mount.path, None)  # re-insert: the stacked mount takes the later place
        top[mount.path] = mount
    return list(top.values())


def contains(mount_point: str, path: str) -> bool:
    """Whether ``path`` lies on ``mount_point`` by its name (no symlink is followed)."""
    return mount_point in ("/", path) or path.startswith(mount_point + "/")


def find_mount(mounts: Sequence[Mount], path: str, exact: bool = False) -> Mount | None:
    """The mount ``path`` names, as check_disk's ``-p`` resolves it.

    A device (``/dev/vda1``) names the mount of that source (the one showing the
    filesystem's root at the shortest path, when it is mounted more than once, where
    check_disk takes the last one); otherwise the mount point
    that is ``path`` or, unless ``exact``, the longest one that contains it (``/var/log``
    is on ``/var`` if that is a mount). Names are compared, nothing is resolved on disk,
    so a hung mount cannot stall the choice; the last mount wins among equals, as the
    top one of stacked mounts is the visible one.
    """
    by_source = [mount for mount in mounts if mount.source == path]
    if by_source:
        return min(by_source, key=_rank)
    wanted = os.path.normpath(path) if path.startswith("/") else path
    best: Mount | None = None
    for mount in mounts:
        fits = mount.path == wanted if exact else contains(mount.path, wanted)
        if fits and (best is None or len(mount.path) >= len(best.path)):
            best = mount
    return best


class Selection:
    """Which mounts to judge: check_disk's rules, and vigie's regexes on types.

    ``paths`` (``-p``) are always judged, whatever their type; regexes on mount points
    (``-r``/``-R``) add mounts; without either, every mount is a candidate. Candidates of a
    pseudo type are left out unless a type rule names them (``-N``, ``also_types``,
    ``type_regexes``); exclusions (``-x``, ``-X``, ``-l``, ``-i``/``-I``, ignored type
    regexes) apply to every mount, explicit or not, as in check_disk.
    """

    def __init__(
        self,
        paths: Sequence[str] = (),
        exact: bool = False,
        path_regexes: Sequence[re.Pattern[str]] = (),
        ignore_path_regexes: Sequence[re.Pattern[str]] = (),
        exclude: Sequence[str] = (),
        include_types: Sequence[str] = (),
        exclude_types: Sequence[str] = (),
        also_types: Sequence[str] = (),
        type_regexes: Sequence[re.Pattern[str]] = (),
        ignore_type_regexes: Sequence[re.Pattern[str]] = (),
        local_only: bool = False,
    ) -> None:
        self.paths, self.exact = list(paths), exact
        self.path_regexes, self.ignore_path_regexes = path_regexes, ignore_path_regexes
        self.exclude = frozenset(exclude)
        self.include_types, self.exclude_types = frozenset(include_types), frozenset(exclude_types)
        self.also_types = frozenset(also_types)
        self.type_regexes, self.ignore_type_regexes = type_regexes, ignore_type_regexes
        self.local_only = local_only

    def wanted_type(self, fs_type: str) -> bool:
        """Whether a candidate of this type is judged (type rules, then the pseudo rule)."""
        named = fs_type in self.include_types or any(
            regex.search(fs_type) for regex in self.type_regexes
        )
        if (self.include_types or self.type_regexes) and not named:
            return False
        return named or fs_type in self.also_types or fs_type not in PSEUDO_TYPES

    def excluded(self, mount: Mount) -> bool:
        """Whether an exclusion rule drops ``mount``, even one named with ``-p``."""
        return (
            mount.path in self.exclude
            or mount.source in self.exclude
            or mount.fs_type in self.exclude_types
            or (self.local_only and mount.remote)
            or any(regex.search(mount.fs_type) for regex in self.ignore_type_regexes)
            or any(_matches(regex, mount) for regex in self.ignore_path_regexes)
        )


class Target:
    """A mount to judge, or a ``-p`` path that names no mount (``mount`` is None).

    ``label`` is what the output calls it: the mount point, or the path as given when no
    mount was found. ``path`` is what ``-p`` said when it was not the mount point itself:
    that path must exist, as check_disk requires.
    """

    __slots__ = ("explicit", "label", "mount", "path")

    def __init__(self, mount: Mount | None, explicit: bool, path: str | None = None) -> None:
        self.mount, self.explicit, self.path = mount, explicit, path
        self.label = mount.name if mount is not None else printable(path or "")

    def __repr__(self) -> str:
        return f"Target({self.label!r}, explicit={self.explicit})"


def _matches(regex: re.Pattern[str], mount: Mount) -> bool:
    """check_disk's regexes match the mount point or the device."""
    return bool(regex.search(mount.path) or regex.search(mount.source))


def select(mounts: Sequence[Mount], selection: Selection) -> list[Target]:
    """The targets ``selection`` picks from ``mounts``, each mount once, in mount order.

    Raises CannotCheck (UNKNOWN) when a ``-r``/``-R`` regex matches no mount, as
    check_disk does. Candidates that are not named by ``-p`` and share a device number
    with another (bind mounts, btrfs subvolumes: the same free space) are judged once,
    on the mount of the filesystem's root with the shortest mount point.
    """
    targets: list[Target] = []
    chosen: set[int] = set()
    for path in selection.paths:
        mount = find_mount(mounts, path, selection.exact)
        if mount is None:
            targets.append(Target(None, True, path))
        elif mount.mount_id not in chosen and not selection.excluded(mount):
            chosen.add(mount.mount_id)
            named_itself = path in (mount.path, mount.source)
            targets.append(Target(mount, True, None if named_itself else path))
    for regex in selection.path_regexes:
        if not any(_matches(regex, mount) for mount in mounts):
            raise CannotCheck(f"regular expression {regex.pattern!r} matches no mount or device")
    candidates = [
        mount
        for mount in mounts
        if mount.mount_id not in chosen
        and (
            any(_matches(regex, mount) for regex in selection.path_regexes)
            if selection.path_regexes
            else not selection.paths
        )
        and selection.wanted_type(mount.fs_type)
        and not selection.excluded(mount)
    ]
    devices_taken = {target.mount.device for target in targets if target.mount is not None}
    first_of_device: dict[str, Mount] = {}
    for mount in candidates:
        if mount.device in devices_taken:
            continue
        known = first_of_device.get(mount.device)
        if known is None or _rank(mount) < _rank(known):
            first_of_device[mount.device] = mount
    keep = {mount.mount_id for mount in first_of_device.values()}
    targets += [Target(mount, False) for mount in candidates if mount.mount_id in keep]
    return targets


def _rank(mount: Mount) -> tuple[bool, int]:
    """Among mounts of one filesystem, lowest for the root shown at the shortest path."""
    return mount.root != "/", len(mount.path)
