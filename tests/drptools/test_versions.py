"""The dumped server's version, read from a dump's first bytes: both layouts, damage."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from drptools.engines import versions


def archive(version: tuple[int, int, int], server: str, int_size: int = 4) -> bytes:
    """The start of a ``pg_dump -Fc`` archive as pg_backup_archiver.c writes it."""

    def integer(value: int) -> bytes:
        return bytes([value < 0]) + abs(value).to_bytes(int_size, "little")

    def string(text: str) -> bytes:
        return integer(len(text)) + text.encode()

    head = b"PGDMP" + bytes([*version, int_size, 8, 1])
    compression = b"\x01" if version >= (1, 15, 0) else integer(-1)
    moment = b"".join(integer(value) for value in (5, 4, 3, 2, 11, 126, 0))
    return head + compression + moment + string("accounts") + string(server) + string("16.1")


def test_both_archive_layouts_give_the_server_major() -> None:
    debian = "15.18 (Debian 15.18-0+deb12u1)"
    assert versions.postgresql_dump_version(archive((1, 14, 0), debian)) == (15, 0)
    assert versions.postgresql_dump_version(archive((1, 15, 0), "16.4")) == (16, 0)
    assert versions.postgresql_dump_version(archive((1, 12, 0), "9.6.24", 8)) == (9, 6)
    assert versions.postgresql_dump_version(archive((1, 9, 0), "9.1.2")) is None  # too old


def test_the_mariadb_header_comment() -> None:
    text = b"-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB\n--\n-- Server version\t10.11.6-Ma\n"
    assert versions.mariadb_dump_version(text) == (10, 11)
    assert versions.mariadb_dump_version(b"-- nothing here\n") is None


@given(st.binary(max_size=300), st.integers(min_value=0, max_value=200))
def test_a_damaged_archive_is_no_version_never_a_crash(tail: bytes, cut: int) -> None:
    whole = archive((1, 14, 0), "15.2") + tail
    garbage = versions.postgresql_dump_version(b"PGDMP" + tail)
    assert garbage is None or isinstance(garbage, tuple)
    found = versions.postgresql_dump_version(whole[:cut])
    assert found is None or found == (15, 0)
    versions.mariadb_dump_version(tail)


def test_a_server_older_than_the_dump_is_a_problem() -> None:
    assert versions.problem("postgresql", (16, 0), (15, 0)) == (
        "the DRP's postgresql server is 15, older than the 16 the dump was made on: it may "
        "not import it (upgrade it first)"
    )
    assert versions.problem("postgresql", (15, 0), (16, 0)) is None
    assert versions.problem("mariadb", None, (10, 11)) is None
