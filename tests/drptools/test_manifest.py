"""The manifest format and the parsers of find, sha256sum and marker outputs, on fixtures."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given, settings

from drptools import manifest
from drptools.actions import snapshots
from drptools.procedures import verify
from drptools.rsync import cause, regular_files_sent, snapshot_arguments, vanished
from tests.conftest import FIXTURES, REPO
from tests.helpers.mutations import damaged

DRP = FIXTURES / "drp"


def fixture(name: str) -> bytes:
    return (DRP / name).read_bytes()


def test_find_listing_keeps_every_strange_name():
    keys, sizes = manifest.parse_listing(fixture("find-listing.bin"))
    paths = {manifest.key_path(key) for key in keys}
    assert paths == {
        b"srv/www/index.html", b"srv/www/empty", b"srv/www/sub/big.css", b"srv/www/a\ttab",
        b"srv/www/new\nline", b"srv/www/back\\slash", b"srv/www/caf\xe9", b"srv/www/-dash",
        b"srv/www/sub/index-link.html",
    }  # fmt: skip
    by_path = {manifest.key_path(key): size for key, size in zip(keys, sizes, strict=True)}
    assert by_path[b"srv/www/sub/big.css"] == 3000
    assert sum(sizes) == 6 + 0 + 3000 + 4 + 3 + 3 + 7 + 5 + 6
    inodes = {manifest.key_path(key): manifest.key_inode(key) for key in keys}
    assert inodes[b"srv/www/index.html"] == inodes[b"srv/www/sub/index-link.html"]
    assert all(b"\n" not in key for key in keys), "keys are one line each"


def test_sha256sum_z_output():
    hashes = manifest.parse_sha256sum(fixture("sha256sum-z.bin"))
    assert hashes[b"srv/www/new\nline"] == hashlib.sha256(b"nl\n").hexdigest().encode()
    assert hashes[b"srv/www/empty"] == hashlib.sha256(b"").hexdigest().encode()
    assert hashes[b"srv/www/-dash"] == hashlib.sha256(b"dash\n").hexdigest().encode()
    assert len(hashes) == 8


def test_the_golden_manifest_parses_and_renders_back_identically():
    text = fixture("MANIFEST")
    entries = manifest.parse_manifest(text)
    assert len(entries) == 8
    assert manifest.render(entries) == text
    by_path = {manifest.key_path(key): digest for key, digest in entries.items()}
    assert by_path[b"srv/www/back\\slash"] == hashlib.sha256(b"bs\n").hexdigest().encode()
    assert by_path[b"srv/www/caf\xe9"] == hashlib.sha256(b"latin1\n").hexdigest().encode()


def test_a_format_1_manifest_is_read_but_never_reused():
    old = manifest.parse_manifest(fixture("MANIFEST-format1"))
    assert len(old) == 7
    assert {manifest.key_inode(key) for key in old} == {manifest.NO_INODE}
    listing = [
        manifest.key_content(key) + b"\t12345" for key in old
    ]  # the same files, now with their inode
    known, unknown = manifest.reuse(listing, old)
    assert (known, unknown) == ({}, listing)
    hashes = {manifest.key_path(key): digest for key, digest in old.items()}
    assert manifest.compare(old, listing, hashes) == [], "verify still reads format 1"


def test_reuse_takes_hashes_only_for_the_same_inode_size_and_mtime():
    previous = manifest.parse_manifest(fixture("MANIFEST"))
    keys = sorted(previous)
    path, size, mtime, inode = keys[0].rsplit(b"\t", 3)
    touched = b"\t".join((path, size, b"1795168800.1234567891", inode))  # 1 ns later
    rewritten = b"\t".join((path, size, mtime, b"999999999"))  # copied again: a new inode
    grown = keys[1].replace(b"\t3\t", b"\t4\t")
    for changed in (touched, rewritten, grown):
        known, unknown = manifest.reuse([changed, *keys[2:]], previous)
        assert unknown == [changed]
        assert set(known) == set(keys[2:])


def test_hard_linked_paths_are_read_once():
    keys, _ = manifest.parse_listing(fixture("find-listing.bin"))
    chosen = manifest.one_path_per_inode(keys)
    assert len(set(chosen.values())) == len(keys) - 1
    by_path = {manifest.key_path(key): path for key, path in chosen.items()}
    assert by_path[b"srv/www/sub/index-link.html"] == by_path[b"srv/www/index.html"]


def test_compare_names_each_kind_of_difference():
    entries = manifest.parse_manifest(fixture("MANIFEST"))
    keys = sorted(entries)
    hashes = {manifest.key_path(key): digest for key, digest in entries.items()}
    assert manifest.compare(entries, keys, hashes) == []
    renumbered = [manifest.key_content(key) + b"\t" + manifest.key_inode(key) * 2 for key in keys]
    assert manifest.compare(entries, renumbered, hashes) == [], "inodes of a copy differ"
    index, empty, link = keys[4], keys[3], keys[7]
    assert manifest.key_path(link) == b"srv/www/sub/index-link.html"
    hashes[manifest.key_path(index)] = b"0" * 64
    changed = empty.replace(b"\t0\t", b"\t10\t")
    unlinked = manifest.key_content(link) + b"\t42"
    listing = [key for key in keys if key not in (empty, keys[0], link)]
    listing += [changed, unlinked, b"extra\t1\t1.0\t7"]
    assert manifest.compare(entries, listing, hashes) == [
        "missing: srv/www/a\ttab",
        "size or mtime changed: srv/www/empty",
        "checksum mismatch: srv/www/index.html",
        "not in the manifest: extra",
        "hard link broken: srv/www/index.html, srv/www/sub/index-link.html",
    ]
    del hashes[manifest.key_path(index)]
    assert "checksum mismatch: srv/www/index.html" not in manifest.compare(
        entries, listing, hashes
    ), "a file not read this time (rolling share) is judged by its listing only"


def test_marker_problems():
    text = fixture("MANIFEST")
    digest = hashlib.sha256(text).hexdigest()
    good = json.dumps(
        {"snapshot": "20261120T100000Z", "manifest_sha256": digest, "manifest_bytes": len(text)}
    ).encode()
    assert manifest.marker_problem(good, "20261120T100000Z", digest, len(text)) is None
    for marker, found, size, problem in (
        (b"", digest, len(text), "COMPLETE is not a vigie marker (empty or damaged)"),
        (b"garbage", digest, len(text), "COMPLETE is not a vigie marker (empty or damaged)"),
        (b"[]", digest, len(text), "COMPLETE is not a vigie marker (empty or damaged)"),
        (good, None, None, "MANIFEST is missing"),
        (good, digest, len(text) - 1, f"MANIFEST is {len(text) - 1} bytes, COMPLETE says"),
        (good, "0" * 64, len(text), "MANIFEST does not match the sha256 in its COMPLETE"),
    ):
        assert (manifest.marker_problem(marker, "20261120T100000Z", found, size) or "").startswith(
            problem
        )
    assert "names snapshot" in (
        manifest.marker_problem(good, "20261121T100000Z", digest, len(text)) or ""
    )


@pytest.mark.parametrize(
    ("parser", "name"),
    [(manifest.parse_listing, "find-listing.bin"), (manifest.parse_sha256sum, "sha256sum-z.bin"),
     (manifest.parse_manifest, "MANIFEST"), (manifest.parse_manifest, "MANIFEST-format1")],
)  # fmt: skip
def test_parsers_refuse_damage_cleanly(parser, name):
    text = fixture(name).decode("latin-1")

    @settings(max_examples=150, deadline=None)
    @given(damaged(text))
    def parses_or_refuses(broken: str) -> None:
        try:
            parser(broken.encode("latin-1", errors="replace"))
        except manifest.ManifestError as error:
            message = str(error)
        else:
            return
        assert message

    parses_or_refuses()


def test_cut_off_outputs_are_refused():
    for parser, name in ((manifest.parse_listing, "find-listing.bin"),
                         (manifest.parse_sha256sum, "sha256sum-z.bin"),
                         (manifest.parse_manifest, "MANIFEST")):  # fmt: skip
        with pytest.raises(manifest.ManifestError, match="cut off"):
            parser(fixture(name)[:-1])


def test_escape_round_trips():
    for raw in (b"plain", b"a\\b", b"a\nb", b"\\n", b"\\\\\n\n"):
        assert manifest.unescape(manifest.escape(raw)) == raw
    with pytest.raises(manifest.ManifestError):
        manifest.unescape(b"bad\\x")


def test_markers_of_complete_snapshots():
    markers = snapshots.parse_markers(fixture("find-markers.bin"))
    assert len(markers) == 3
    for name, marker in markers.items():
        assert marker["snapshot"] == name
        assert marker["environment"] == "www"


def test_sha256sum_check_outputs():
    good, bad = verify.parse_check((DRP / "sha256sum-check-failed.txt").read_text())
    assert (good, bad) == (["srv/www/index.html"], ["srv/www/empty: FAILED"])
    good, bad = verify.parse_check((DRP / "sha256sum-check-missing.txt").read_text())
    assert good == []
    assert bad == ["srv/www/index.html: FAILED open or read", "srv/www/empty: FAILED"]


def test_rsync_failure_names_the_cause_not_the_summary():
    stderr = (DRP / "rsync-missing-source.stderr").read_text()
    assert cause(stderr) == (
        'rsync: [sender] link_stat "/tmp/t1/nonexistent" failed: No such file or directory (2)'
    )


def test_rsync_arguments():
    assert snapshot_arguments(
        ("/srv/www/", "/etc/nginx"),
        "b:/backup/www/files/X.partial/data/",
        excludes=("*.tmp", "/srv/www/cache/"),
        link_dest="/backup/www/files/W/data",
        shell=("-e", "ssh -F /etc/vigie/ssh_config -o BatchMode=yes"),
    ) == (
        "rsync", "-a", "--relative", "--delete", "--delete-excluded", "--numeric-ids",
        "--hard-links", "--sparse", "--acls", "--xattrs",
        "--modify-window=-1", "--stats", "--no-human-readable",
        "-e", "ssh -F /etc/vigie/ssh_config -o BatchMode=yes",
        "--exclude=*.tmp", "--exclude=/srv/www/cache/",
        "--link-dest=/backup/www/files/W/data",
        "--", "/srv/www/", "/etc/nginx", "b:/backup/www/files/X.partial/data/",
    )  # fmt: skip
    assert "--hard-links" not in snapshot_arguments(["/s"], "/d", preserve=("sparse",))
    assert "--sparse" in snapshot_arguments(["/s"], "/d", preserve=("sparse",))


def test_rsync_statistics_count_the_regular_files_sent():
    assert regular_files_sent(fixture("rsync-stats.txt")) == 3
    assert regular_files_sent(fixture("rsync-stats-no-files.txt")) == 0
    with pytest.raises(ValueError, match="no 'Number of files'"):
        regular_files_sent(b"sent 10 bytes  received 20 bytes\n")


def test_rsync_vanished_files():
    stderr = (
        'file has vanished: "/srv/www/cache/a b"\n'
        'file has vanished: "/srv/www/tmp/x"\n'
        "rsync warning: some files vanished before they could be transferred (code 24)\n"
    )
    assert vanished(stderr) == ["/srv/www/cache/a b", "/srv/www/tmp/x"]


def test_the_target_lists_and_hashes_for_the_manifest(tmp_path):
    from drptools.config import Location, Target
    from drptools.targets import Place

    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "caf\xe9").write_bytes(b"coffee")
    with Place(Target("A", Location(str(tmp_path)), "dc-1", None)) as place:
        keys, sizes = manifest.list_files(place, str(tmp_path))
        assert [manifest.key_path(key) for key in keys] == ["sub/caf\xe9".encode()]
        assert sizes == [6]
        hashes = manifest.hash_files(place, str(tmp_path), ["sub/caf\xe9".encode()])
    assert hashes == {"sub/caf\xe9".encode(): hashlib.sha256(b"coffee").hexdigest().encode()}


def test_procedures_and_the_manifest_leave_listing_and_hashing_to_the_target():
    source = REPO / "src" / "drptools"
    for path in [source / "manifest.py", *sorted((source / "procedures").glob("*.py"))]:
        text = path.read_text()
        assert '"find"' not in text, path
        assert '"sha256sum"' not in text, path
