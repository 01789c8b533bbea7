"""A snapshot's manifest: path, size, mtime, inode and SHA-256 of every regular file in it.

The manifest is what ``drp verify`` proves a snapshot against, years later, and what an
operator can read without vigie (``MANIFEST`` is text: one line per file, tab-separated,
``path size mtime inode sha256``; a ``\\`` or a line break in a path is written ``\\\\``
or ``\\n``; bytes that are not UTF-8 stay as they are). It is built from the snapshot on
the target, after rsync, so it describes what was stored, not what the source looked like
a moment later. Paths that share an inode are hard links of one another (rsync
``--hard-links``): ``drp verify`` checks that they still are, and a restore recreates them.

Hashing a tree of 100 000 files each day would cost more than the copy, so an entry whose
path, size, mtime (to the nanosecond) AND inode equal an entry of the previous snapshot's
manifest takes that entry's hash. The inode is what makes this safe: with ``--link-dest``
an unchanged file of the new snapshot is the previous snapshot's very inode, hard-linked,
so its content is the one hashed then; a file rsync copied again (it changed, even within
the same second) is a new inode and is read. Manifests of format 1 (no inode) are never
reused: every file is hashed once more. Hard-linked paths are read once per inode.

The listing comes from ``find -printf`` and the hashes from ``sha256sum -z`` on the target
(see :mod:`drptools.targets`); the parsers here are pure functions of their output.
"""

from __future__ import annotations

import os

from drptools.errors import Failure

TYPE_CHECKING = False
if TYPE_CHECKING:
    from drptools.targets import Place

HEADER = (
    b"# vigie drp manifest 2: path<TAB>size<TAB>mtime<TAB>inode<TAB>sha256, one line per"
    b" regular file; in paths a backslash is written \\\\ and a line break \\n\n"
)
#: The first line of the format without inodes (vigie 0.1), still read by verify.
HEADER_1 = b"# vigie drp manifest 1:"
#: The inode field of an entry read from a format-1 manifest: matches no listing.
NO_INODE = b"-"
HASH_LENGTH = 64
HEX_DIGITS = b"0123456789abcdef"
HEX = frozenset(HEX_DIGITS)
#: ``find`` format of one listing record: ``path<TAB>size<TAB>mtime<TAB>inode`` then NUL.
LISTING_FORMAT = "%P\\t%s\\t%T@\\t%i\\0"


class ManifestError(Failure):
    """A manifest or a tool's output that does not have the expected format."""


def escape(path: bytes) -> bytes:
    """A raw path as the manifest writes it (backslash and newline escaped)."""
    return path.replace(b"\\", b"\\\\").replace(b"\n", b"\\n")


def unescape(text: bytes) -> bytes:
    """The raw path of a manifest's path field."""
    if b"\\" not in text:
        return text
    out = bytearray()
    index = 0
    while index < len(text):
        byte = text[index]
        if byte == 0x5C:  # backslash
            follower = text[index + 1 : index + 2]
            if follower == b"\\":
                out += b"\\"
            elif follower == b"n":
                out += b"\n"
            else:
                raise ManifestError(f"bad escape in manifest path {text[:80]!r}")
            index += 2
        else:
            out.append(byte)
            index += 1
    return bytes(out)


def parse_listing(output: bytes) -> tuple[list[bytes], list[int]]:
    """Keys (``escaped-path<TAB>size<TAB>mtime<TAB>inode``) and sizes of a ``find -printf``
    output."""
    records = output.split(b"\0")
    if records and records[-1] == b"":
        records.pop()
    elif records:
        raise ManifestError("the file listing is cut off (no NUL after the last record)")
    needs_escaping = b"\\" in output or b"\n" in output
    keys, sizes = [], []
    for record in records:
        path, size, mtime, inode = _split_record(record)
        keys.append(b"\t".join((escape(path), size, mtime, inode)) if needs_escaping else record)
        sizes.append(int(size))
    return keys, sizes


def _split_record(record: bytes) -> tuple[bytes, bytes, bytes, bytes]:
    parts = record.rsplit(b"\t", 3)
    if (
        len(parts) != 4
        or not parts[0]
        or not parts[1].isdigit()
        or not parts[2]
        or not parts[3].isdigit()
    ):
        raise ManifestError(f"not a listing record: {record[:80]!r}")
    return parts[0], parts[1], parts[2], parts[3]


def key_path(key: bytes) -> bytes:
    """The raw path of a key."""
    return unescape(key.rsplit(b"\t", 3)[0])


def key_size(key: bytes) -> int:
    """The size of a key's file."""
    return int(key.rsplit(b"\t", 3)[1])


def key_inode(key: bytes) -> bytes:
    """The inode of a key's file (``-`` for an entry of a format-1 manifest)."""
    return key.rsplit(b"\t", 1)[1]


def key_content(key: bytes) -> bytes:
    """Path, size and mtime of a key: what must not change while the file is kept."""
    return key.rsplit(b"\t", 1)[0]


def parse_manifest(data: bytes) -> dict[bytes, bytes]:
    """Key → sha256 of every entry of a manifest (format 2, or 1 with ``-`` as inode).

    Checked as a whole rather than line by line (it is read at every run, 100 000 lines):
    every line ends with a TAB and 64 lowercase hex digits. A key that is damaged matches
    no file of the new listing, so that file is simply hashed again.
    """
    if data.startswith(HEADER_1):
        inode_field = b"\t" + NO_INODE
    elif data.startswith(HEADER[: len(HEADER_1)]):
        inode_field = b""
    else:
        raise ManifestError("not a vigie drp manifest (first line)")
    lines = data.split(b"\n")
    if lines[-1] != b"":
        raise ManifestError("the manifest is cut off (no line break at the end)")
    del lines[0], lines[-1]
    cut = -HASH_LENGTH - 1
    if b"".join([line[cut:-HASH_LENGTH] for line in lines]) != b"\t" * len(lines):
        bad = next(line for line in lines if line[cut:-HASH_LENGTH] != b"\t")
        raise ManifestError(f"not a manifest line: {bad[:80]!r}")
    entries = {line[:cut] + inode_field: line[-HASH_LENGTH:] for line in lines}
    if b"".join(entries.values()).translate(None, HEX_DIGITS) or len(entries) != len(lines):
        raise ManifestError("a manifest line does not end with a lowercase sha256, or repeats")
    return entries


def render(entries: dict[bytes, bytes]) -> bytes:
    """The manifest text of ``entries`` (key → sha256), sorted by path."""
    lines = [key + b"\t" + digest for key, digest in sorted(entries.items())]
    return HEADER + b"\n".join(lines) + (b"\n" if lines else b"")


def parse_sha256sum(output: bytes) -> dict[bytes, bytes]:
    """Raw path → sha256 from ``sha256sum -z`` output (``HASH  path`` records, NUL-ended)."""
    hashes: dict[bytes, bytes] = {}
    records = output.split(b"\0")
    if records[-1] != b"":
        raise ManifestError("sha256sum output is cut off (no NUL after the last record)")
    for record in records[:-1]:
        digest, separator, path = (
            record[:HASH_LENGTH],
            record[HASH_LENGTH : HASH_LENGTH + 2],
            record[HASH_LENGTH + 2 :],
        )
        if not set(digest) <= HEX or len(digest) != HASH_LENGTH or separator not in (b"  ", b" *"):
            raise ManifestError(f"not a sha256sum record: {record[:80]!r}")
        hashes[path] = digest
    return hashes


def reuse(
    keys: list[bytes], previous: dict[bytes, bytes]
) -> tuple[dict[bytes, bytes], list[bytes]]:
    """Entries whose key is in ``previous`` (hash reused), and the keys still to hash."""
    known: dict[bytes, bytes] = {}
    unknown: list[bytes] = []
    for key in keys:
        digest = previous.get(key)
        if digest is None:
            unknown.append(key)
        else:
            known[key] = digest
    return known, unknown


def one_path_per_inode(keys: list[bytes]) -> dict[bytes, bytes]:
    """Key → the path to read for it: hard-linked paths share one read."""
    first: dict[bytes, bytes] = {}
    chosen = {}
    for key in keys:
        chosen[key] = first.setdefault(key_inode(key), key_path(key))
    return chosen


def link_problems(manifest: dict[bytes, bytes], keys: list[bytes]) -> list[str]:
    """Hard links of the manifest that the listing ``keys`` no longer shows as links."""
    on_disk = {key_path(key): key_inode(key) for key in keys}
    groups: dict[bytes, list[bytes]] = {}
    for key in manifest:
        inode = key_inode(key)
        if inode != NO_INODE:
            groups.setdefault(inode, []).append(key_path(key))
    problems = []
    for paths in groups.values():
        inodes = {on_disk.get(path) for path in paths}
        if len(paths) > 1 and None not in inodes and len(inodes) > 1:
            shown = ", ".join(os.fsdecode(path) for path in sorted(paths))
            problems.append(f"hard link broken: {shown}")
    return sorted(problems)


#: Format of the ``COMPLETE`` marker: 2 adds ``manifest_bytes``, ``source_files`` and the
#: inode column of the manifest.
MARKER_FORMAT = 2


def marker_problem(
    marker: bytes, stamp: str, manifest_sha256: str | None, manifest_bytes: int | None
) -> str | None:
    """Why a snapshot's ``COMPLETE`` does not vouch for its ``MANIFEST``, or None.

    ``COMPLETE`` names the snapshot it completes and the checksum (and, from format 2,
    the size) of the manifest it seals; a marker that is empty or garbage, names another
    snapshot, or seals another manifest proves nothing. ``manifest_sha256`` is None when
    the manifest is missing.
    """
    import json

    try:
        fields = json.loads(marker)
    except ValueError:
        fields = None
    if not isinstance(fields, dict) or not isinstance(fields.get("manifest_sha256"), str):
        return "COMPLETE is not a vigie marker (empty or damaged)"
    if fields.get("snapshot") != stamp:
        return f"COMPLETE names snapshot {str(fields.get('snapshot'))[:40]!r}, not {stamp}"
    if manifest_sha256 is None:
        return "MANIFEST is missing"
    size = fields.get("manifest_bytes")
    if isinstance(size, int) and manifest_bytes is not None and size != manifest_bytes:
        return f"MANIFEST is {manifest_bytes} bytes, COMPLETE says {size}"
    if fields["manifest_sha256"] != manifest_sha256:
        return "MANIFEST does not match the sha256 in its COMPLETE"
    return None


# --- on a target ------------------------------------------------------------------------


def list_files(place: Place, directory: str) -> tuple[list[bytes], list[int]]:
    """Listing keys and sizes of every regular file below ``directory`` on the target."""
    return parse_listing(place.list_files(directory, LISTING_FORMAT))


def hash_files(place: Place, directory: str, paths: list[bytes]) -> dict[bytes, bytes]:
    """Raw path → sha256 of ``paths`` (relative to ``directory``) on the target."""
    if not paths:
        return {}
    hashes = parse_sha256sum(place.hash_files(directory, paths))
    missing = [path for path in paths if path not in hashes]
    if missing:
        shown = os.fsdecode(missing[0])
        raise ManifestError(f"sha256sum gave no checksum for {len(missing)} file(s), {shown!r}…")
    return hashes


def hash_keys(place: Place, directory: str, keys: list[bytes]) -> dict[bytes, bytes]:
    """Key → sha256 of the files of ``keys``, each inode read once.

    Hashing is CPU-bound (a core hashes SHA-256 at a few hundred MB/s, slower than a disk
    reads): the files are shared out by size between up to :func:`hashers` ``sha256sum``
    processes at once, each with its own pipe, so that a restore's verification of a
    large tree takes the time of the largest share rather than of the whole.
    """
    chosen = one_path_per_inode(keys)
    sizes: dict[bytes, int] = {}
    for key, path in chosen.items():
        sizes.setdefault(path, key_size(key))
    groups = shares(sizes, hashers())
    if len(groups) < 2:
        hashes = hash_files(place, directory, list(sizes))
    else:
        from concurrent.futures import ThreadPoolExecutor

        hashes = {}
        with ThreadPoolExecutor(len(groups)) as pool:
            for found in pool.map(lambda group: hash_files(place, directory, group), groups):
                hashes.update(found)
    return {key: hashes[path] for key, path in chosen.items()}


#: Below this many bytes, one sha256sum: more processes would cost more than they save.
PARALLEL_BYTES = 64 * 1024 * 1024


def hashers() -> int:
    """How many sha256sum processes share a large hashing: the CPUs here, at most 4."""
    return max(1, min(4, os.cpu_count() or 1))


def shares(sizes: dict[bytes, int], count: int) -> list[list[bytes]]:
    """The paths of ``sizes`` in at most ``count`` groups of about equal bytes (largest
    file first, each to the lightest group); one group when they are few bytes."""
    if count < 2 or sum(sizes.values()) < PARALLEL_BYTES:
        return [list(sizes)] if sizes else []
    groups: list[list[bytes]] = [[] for _ in range(count)]
    loads = [0] * count
    for path in sorted(sizes, key=lambda path: -sizes[path]):
        lightest = loads.index(min(loads))
        groups[lightest].append(path)
        loads[lightest] += sizes[path]
    return [group for group in groups if group]


def build(
    place: Place, directory: str, previous: dict[bytes, bytes], previous_text: bytes = b""
) -> tuple[bytes, dict[str, int]]:
    """The manifest of ``directory`` and its figures (files, bytes, hashed, hashed_bytes).

    When every file is the previous snapshot's (the common case of a quiet night), the
    previous manifest is the new one, byte for byte, and is reused as it is.
    """
    keys, sizes = list_files(place, directory)
    entries, unknown = reuse(keys, previous)
    entries.update(hash_keys(place, directory, unknown))
    figures = {
        "files": len(keys),
        "bytes": sum(sizes),
        "hashed_files": len(unknown),
        "hashed_bytes": sum(key_size(key) for key in unknown),
    }
    if not unknown and len(entries) == len(previous) and previous_text:
        return previous_text, figures
    return render(entries), figures


def compare(
    manifest: dict[bytes, bytes], keys: list[bytes], hashes: dict[bytes, bytes]
) -> list[str]:
    """What differs between a manifest and a fresh listing with fresh hashes, one line each.

    ``hashes`` maps raw paths to their fresh sha256; a path absent from it was not read
    (a rolling verification reads a share of the files) and is judged by its listing only.
    Inode numbers are compared only as hard-link groups: a copy of the snapshot elsewhere
    has other numbers and is still intact.
    """
    problems = []
    on_disk = {key_path(key): key for key in keys}
    recorded = {key_path(key): (key, digest) for key, digest in manifest.items()}
    for path, (key, digest) in sorted(recorded.items()):
        shown = os.fsdecode(path)
        if path not in on_disk:
            problems.append(f"missing: {shown}")
        elif key_content(on_disk[path]) != key_content(key):
            problems.append(f"size or mtime changed: {shown}")
        elif path in hashes and hashes[path] != digest:
            problems.append(f"checksum mismatch: {shown}")
    for path in sorted(set(on_disk) - set(recorded)):
        problems.append(f"not in the manifest: {os.fsdecode(path)}")
    return problems + link_problems(manifest, keys)
