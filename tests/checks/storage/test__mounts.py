"""The mount table parser, the mount selection rules, and statvfs with a deadline."""

from __future__ import annotations

import errno
import re
import time

import pytest

from checks.core.errors import CannotCheck, ParseError
from checks.core.threads import answer_within
from checks.storage import _mounts
from checks.storage._mounts import Selection, find_mount, parse_mountinfo, select
from tests.conftest import FIXTURES
from tests.helpers.mutations import every_damage_parses_or_refuses

SAMPLES = FIXTURES / "mounts"


def read(name: str) -> str:
    return (SAMPLES / name).read_bytes().decode("utf-8", "surrogateescape")


VM = "debian12-vm.mountinfo"
LOOPS = "loop-mounts-namespace.mountinfo"
SHARED = "shared-propagation.mountinfo"


def table(name: str = LOOPS) -> list[_mounts.Mount]:
    return _mounts.visible(parse_mountinfo(read(name)))


def paths(targets: list[_mounts.Target]) -> list[str]:
    return [target.label for target in targets]


# --- parse_mountinfo --------------------------------------------------------------------


def test_parse_a_plain_line_of_a_debian_vm():
    root = parse_mountinfo(read(VM))[5]
    assert (root.mount_id, root.parent_id, root.device, root.root, root.path) == (
        27, 1, "254:0", "/", "/")  # fmt: skip
    assert (root.fs_type, root.source, root.options) == ("ext4", "/dev/vda", "rw,relatime")
    assert len(parse_mountinfo(read(VM))) == 21


def test_parse_unescapes_the_kernels_octal_escapes():
    by_path = {mount.path: mount for mount in parse_mountinfo(read(LOOPS))}
    bound = by_path["/tmp/cap/mi/with space"]
    assert (bound.root, bound.device, bound.source) == ("/sub dir", "7:0", "/dev/loop0")
    odd = by_path["/tmp/cap/mi/tab\there\\back"]
    assert (odd.fs_type, odd.source) == ("tmpfs", "")  # mount -t tmpfs "" keeps an empty field


def test_parse_keeps_mount_points_that_are_not_utf8_byte_for_byte():
    (latin,) = [mount for mount in parse_mountinfo(read(LOOPS)) if "caf" in mount.path]
    assert latin.path.encode("utf-8", "surrogateescape") == b"/tmp/cap/mi/caf\xe9"
    assert latin.name == "/tmp/cap/mi/caf\N{REPLACEMENT CHARACTER}"


def test_parse_skips_optional_propagation_fields():
    table = parse_mountinfo(read(SHARED))
    assert [(m.path, m.fs_type, m.source) for m in table[-2:]] == [
        ("/tmp/cap/sh/a", "ext4", "/dev/loop0"),
        ("/tmp/cap/sh/b", "ext4", "/dev/loop0"),
    ]
    namespaces = [mount for mount in table if mount.fs_type == "nsfs"]
    assert len(namespaces) == 7
    assert namespaces[0].root.startswith("net:[")


def test_visible_keeps_the_top_of_stacked_mounts():
    stacked = [mount for mount in table() if mount.path == "/tmp/cap/mi/stacked"]
    assert [mount.source for mount in stacked] == ["second"]
    assert [mount.path for mount in table(VM)].count("/dev/shm") == 1


@pytest.mark.parametrize(
    ("field", "text"),
    [("/a\\040b", "/a b"), ("\\011\\012\\134", "\t\n\\"), ("plain", "plain"),
     ("back\\slash", "back\\slash"), ("end\\04", "end\\04")],
)  # fmt: skip
def test_unescape(field, text):
    assert _mounts.unescape(field) == text


@pytest.mark.parametrize(
    "text",
    ["garbage", "1 2 3:4 / /x rw - ext4", "1 2 3:4 / /x rw", "x 2 3:4 / /x rw - ext4 /dev/a rw",
     "1 2 3-4 / /x rw - ext4 /dev/a rw", "1 2 3:4 / relative rw - ext4 /dev/a rw",
     "1 2 3:4 / /x rw -  /dev/a rw"],
)  # fmt: skip
def test_parse_refuses_lines_that_are_not_mounts(text):
    with pytest.raises(ParseError, match="mountinfo line 1"):
        parse_mountinfo(text)


@pytest.mark.parametrize("sample", [VM, LOOPS, SHARED])
def test_damaged_mountinfo_parses_or_is_refused(sample):
    every_damage_parses_or_refuses(parse_mountinfo, read(sample), examples=150)


# --- find_mount and select ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "exact", "found"),
    [("/", False, "/"), ("/etc/passwd", False, "/"), ("/tmp/cap/mi/data/x/y", False,
     "/tmp/cap/mi/data"), ("/tmp/cap/mi/data", True, "/tmp/cap/mi/data"),
     ("/tmp/cap/mi/data/x", True, None), ("/tmp/cap/mi/database", False, "/"),
     ("/dev/loop1", False, "/tmp/cap/mi/xfs"), ("/tmp/cap/mi/data/", False, "/tmp/cap/mi/data"),
     ("/tmp/cap/mi/stacked", True, "/tmp/cap/mi/stacked")],
)  # fmt: skip
def test_find_mount_resolves_like_check_disk(path, exact, found):
    mount = find_mount(table(), path, exact)
    assert (mount.path if mount else None) == found


def test_default_selection_leaves_out_pseudo_filesystems_and_duplicates():
    # tmpfs, overlay, cgroup, proc... are out; /run/netns and "with space" are bind mounts
    # of / and /tmp/cap/mi/data (same device): judged once, on the filesystem's root.
    assert paths(select(table(), Selection())) == [
        "/", "/tmp/cap/mi/data", "/tmp/cap/mi/xfs", "/tmp/cap/mi/hung"]  # fmt: skip


def test_explicit_paths_are_judged_whatever_their_type():
    chosen = select(table(), Selection(paths=["/dev/shm", "/tmp/cap/mi/with space", "/etc"]))
    assert paths(chosen) == ["/dev/shm", "/tmp/cap/mi/with space", "/"]
    assert [target.path for target in chosen] == [None, None, "/etc"]
    assert all(target.explicit for target in chosen)


def test_an_unmounted_exact_path_is_a_target_without_mount():
    (target,) = select(table(), Selection(paths=["/srv/data"], exact=True))
    assert (target.mount, target.label, target.explicit) == (None, "/srv/data", True)


def test_the_same_mount_named_twice_is_judged_once():
    assert paths(select(table(), Selection(paths=["/", "/etc", "/dev/vda"]))) == ["/"]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [(Selection(exclude=["/tmp/cap/mi/hung", "/dev/loop1"]), ["/", "/tmp/cap/mi/data"]),
     (Selection(exclude_types=["ext4"]), ["/tmp/cap/mi/xfs", "/tmp/cap/mi/hung"]),
     (Selection(include_types=["xfs", "tmpfs"]),
      ["/mnt/sandboxing/model_tools_env/v1/python", "/sys/fs/cgroup", "/dev/shm",
       "/tmp/cap/mi/xfs", "/tmp/cap/mi/tab\there\\back",
       "/tmp/cap/mi/caf\N{REPLACEMENT CHARACTER}", "/tmp/cap/mi/stacked"]),
     (Selection(also_types=["overlay"]),
      ["/", "/tmp/cap/mi/data", "/tmp/cap/mi/xfs", "/tmp/cap/mi/merged", "/tmp/cap/mi/hung"]),
     (Selection(type_regexes=[re.compile("^fuse")]), ["/tmp/cap/mi/hung"]),
     (Selection(ignore_type_regexes=[re.compile("^(ext|xfs)")]), ["/tmp/cap/mi/hung"]),
     (Selection(path_regexes=[re.compile("^/tmp/cap/mi/[dx]")]),
      ["/tmp/cap/mi/data", "/tmp/cap/mi/xfs"]),
     (Selection(path_regexes=[re.compile("LOOP1", re.I)]), ["/tmp/cap/mi/xfs"]),
     (Selection(ignore_path_regexes=[re.compile("^/tmp")]), ["/"]),
     (Selection(paths=["/dev/shm"], exclude_types=["tmpfs"]), [])],
)  # fmt: skip
def test_selection_rules(choice, expected):
    assert paths(select(table(), choice)) == expected


def test_local_only_leaves_out_network_filesystems():
    remote = parse_mountinfo(
        "30 1 0:50 / /mnt/nfs rw - nfs4 files:/export rw\n"
        "31 1 0:51 / /mnt/smb rw - cifs //nas/share rw\n"
        "32 1 0:52 / /mnt/odd rw - fuse.weird host:/x rw\n"
        "33 1 8:1 / /srv rw - ext4 /dev/sda1 rw\n"
    )
    assert paths(select(remote, Selection())) == ["/mnt/nfs", "/mnt/smb", "/mnt/odd", "/srv"]
    assert paths(select(remote, Selection(local_only=True))) == ["/srv"]


def test_a_path_regex_that_matches_nothing_is_unknown_as_in_check_disk():
    with pytest.raises(CannotCheck, match="'\\^/nowhere' matches no mount"):
        select(table(), Selection(path_regexes=[re.compile("^/nowhere")]))


# --- answer_within ------------------------------------------------------------------------


def test_answer_within_returns_values_and_errors_in_order():
    def fails() -> object:
        raise OSError(errno.ESTALE, "Stale file handle")

    answers = answer_within([lambda: 1, fails, lambda: "three"], timeout=5)
    assert answers[0] == 1
    assert answers[2] == "three"
    assert isinstance(answers[1], OSError)
    assert answers[1].errno == errno.ESTALE


def test_answer_within_gives_up_on_late_calls_without_waiting_for_each():
    started = time.monotonic()
    answers = answer_within([lambda: time.sleep(3), lambda: time.sleep(3), lambda: 7], 0.3)
    assert answers == [None, None, 7]
    assert time.monotonic() - started < 1.5  # both late calls share one deadline
