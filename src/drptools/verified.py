"""The sha256 of files already proven on the DRP server, remembered with their inode and ctime.

Every restore onto the DRP server ends by hashing the environment's files there and
comparing them with the MANIFEST (:class:`~drptools.procedures.restore.VerifyFiles`).
Done in full each time, a pre-staged activation would read the whole tree once more to
prove files it proved the night before and has not touched since: the largest part of
its time, for nothing the filesystem does not already tell. So each successful proof is
remembered (``verified.<environment>`` in the state directory: listing key, ctime,
sha256 per file), and the next one takes a file's hash from it only when its path, size,
mtime, inode AND ctime are unchanged. The ctime is what makes this sound: no write to a
file, and no way of setting its mtime back after one, leaves it as it was (only the
kernel sets it). It is the trust the snapshots' own MANIFEST reuse puts in inodes; what
it cannot see is a disk corrupting data under the filesystem, which ``drp drill`` (a
restore into an empty place, every file hashed) and ``drp verify`` on the targets do.
"""

from __future__ import annotations

import os

from drptools import manifest, status

TYPE_CHECKING = False
if TYPE_CHECKING:
    from drptools.targets import Place

#: ``find -printf``: the inode and the ctime of each file (hard links share both).
CHANGES_FORMAT = "%i\\t%C@\\0"


def _path(environment: str) -> str:
    return os.path.join(status.state_dir(), f"verified.{environment}")


def remembered(environment: str) -> dict[bytes, bytes]:
    """``key<TAB>ctime`` -> sha256 of the last proof of ``environment`` (empty: none, or
    a file that cannot be read, which costs a full hashing and nothing else)."""
    try:
        with open(_path(environment), "rb") as file:
            lines = file.read().split(b"\n")
    except OSError:
        return {}
    entries = {}
    for line in lines:
        stamp, _, digest = line.rpartition(b"\t")
        if stamp and len(digest) == 64:
            entries[stamp] = digest
    return entries


def remember(environment: str, entries: dict[bytes, bytes]) -> None:
    """Replace the proof of ``environment`` with ``entries`` (atomically)."""
    from checks.core.files import replace_atomically

    status.make_state_dir()
    text = b"".join(stamp + b"\t" + digest + b"\n" for stamp, digest in sorted(entries.items()))
    replace_atomically(_path(environment), text.decode("utf-8", "surrogateescape"), mode=0o600)


def changes(place: Place, root: str, paths: tuple[str, ...]) -> dict[bytes, bytes]:
    """Inode -> ctime of every file below ``paths`` under ``root`` on ``place``."""
    found: dict[bytes, bytes] = {}
    for path in paths:
        below = os.path.normpath(f"{root}/{path}")
        if place.listing(below, 0) is None:
            continue
        for record in place.list_files(below, CHANGES_FORMAT).split(b"\0"):
            inode, _, ctime = record.partition(b"\t")
            if ctime:
                found[inode] = ctime
    return found


def hashes(
    place: Place, root: str, environment: str, paths: tuple[str, ...], keys: list[bytes]
) -> tuple[dict[bytes, bytes], dict[bytes, bytes], int]:
    """The sha256 of the files of ``keys`` on ``place``: taken from the last proof where
    nothing changed, else read. Returns key -> sha256, the ``key<TAB>ctime`` stamps to
    :func:`remember` once they are proven, and how many files were read."""
    ctimes = changes(place, root, paths)
    previous = remembered(environment)
    stamps = {key: key + b"\t" + ctimes.get(manifest.key_inode(key), b"?") for key in keys}
    found = {key: previous[stamp] for key, stamp in stamps.items() if stamp in previous}
    unknown = [key for key in keys if key not in found]
    found.update(manifest.hash_keys(place, root, unknown))
    return found, {stamps[key]: digest for key, digest in found.items()}, len(unknown)
