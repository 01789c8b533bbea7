"""The manifest format and the parsers of find, sha256sum and marker outputs, on fixtures."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings

from drptools import manifest
from drptools.actions import snapshots, verify
from drptools.rsync import cause, snapshot_arguments
from tests.conftest import FIXTURES
from tests.mutations import damaged

DRP = FIXTURES / "drp"


def fixture(name: str) -> bytes:
    return (DRP / name).read_bytes()


def test_find_listing_keeps_every_strange_name():
    keys, sizes = manifest.parse_listing(fixture("find-listing.bin"))
    paths = {manifest.key_path(key) for key in keys}
    assert paths == {
        b"srv/www/index.html", b"srv/www/empty", b"srv/www/sub/big.css", b"srv/www/a\ttab",
        b"srv/www/new\nline", b"srv/www/back\\slash", b"srv/www/caf\xe9", b"srv/www/-dash",
    }  # fmt: skip
    by_path = {manifest.key_path(key): size for key, size in zip(keys, sizes, strict=True)}
    assert by_path[b"srv/www/sub/big.css"] == 3000
    assert sum(sizes) == 6 + 0 + 3000 + 4 + 3 + 3 + 7 + 5
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
    assert len(entries) == 7
    assert manifest.render(entries) == text
    by_path = {manifest.key_path(key): digest for key, digest in entries.items()}
    assert by_path[b"srv/www/back\\slash"] == hashlib.sha256(b"bs\n").hexdigest().encode()
    assert by_path[b"srv/www/caf\xe9"] == hashlib.sha256(b"latin1\n").hexdigest().encode()


def test_reuse_takes_hashes_only_for_identical_path_size_and_mtime():
    previous = manifest.parse_manifest(fixture("MANIFEST"))
    keys = list(previous)
    touched = keys[0].rsplit(b"\t", 1)[0] + b"\t1795168801.0000000000"
    grown = keys[1].replace(b"\t3\t", b"\t4\t")
    known, unknown = manifest.reuse([touched, grown, *keys[2:]], previous)
    assert unknown == [touched, grown]
    assert set(known) == set(keys[2:])


def test_compare_names_each_kind_of_difference():
    entries = manifest.parse_manifest(fixture("MANIFEST"))
    keys = list(entries)
    hashes = {manifest.key_path(key): digest for key, digest in entries.items()}
    assert manifest.compare(entries, keys, hashes) == []
    index, empty = keys[4], keys[3]
    hashes[manifest.key_path(index)] = b"0" * 64
    changed = empty.replace(b"\t0\t", b"\t10\t")
    listing = [key for key in keys if key not in (empty, keys[0])] + [changed, b"extra\t1\t1.0"]
    assert manifest.compare(entries, listing, hashes) == [
        "missing: srv/www/a\ttab",
        "size or mtime changed: srv/www/empty",
        "checksum mismatch: srv/www/index.html",
        "not in the manifest: extra",
    ]


@pytest.mark.parametrize(
    ("parser", "name"),
    [(manifest.parse_listing, "find-listing.bin"), (manifest.parse_sha256sum, "sha256sum-z.bin"),
     (manifest.parse_manifest, "MANIFEST")],
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
        ("/srv/www", "/etc/nginx"),
        "b:/backup/www/files/X.partial/data/",
        excludes=("*.tmp", "/srv/www/cache/"),
        link_dest="/backup/www/files/W/data",
        shell=("-e", "ssh -F /etc/vigie/ssh_config -o BatchMode=yes"),
    ) == (
        "rsync", "-a", "--relative", "--delete", "--delete-excluded", "--numeric-ids",
        "-e", "ssh -F /etc/vigie/ssh_config -o BatchMode=yes",
        "--exclude=*.tmp", "--exclude=/srv/www/cache/",
        "--link-dest=/backup/www/files/W/data",
        "--", "/srv/www", "/etc/nginx", "b:/backup/www/files/X.partial/data/",
    )  # fmt: skip
